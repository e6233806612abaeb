import { createHash } from 'node:crypto';
import { createBus } from '@tollgate/bus';
import { compile, decide, decodeSnapshot } from '@tollgate/policy';
import { openTestDatabase, type TestDatabase } from '@tollgate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seal } from '../lib/seal.ts';
import { createPolicyPublisher } from './publisher.ts';

const secret = Buffer.alloc(32, 7);
const hash = (s: string) => createHash('sha256').update(s).digest('hex');

describe('policy publisher: snapshot from the books', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase('pglite');
    const p = t.db.prisma;
    await p.workspace.create({
      data: {
        id: 'ws_1',
        name: 'one',
        markupBp: 1250,
        spendCapMicros: 5_000_000n,
        byokWaivesMarkup: false,
      },
    });
    await p.subAccount.create({
      data: {
        id: 'sa_1',
        workspaceId: 'ws_1',
        name: 'customer',
        spendCapMicros: 1_000_000n,
        budgetPeriod: 'daily',
        rateLimitRpm: 10,
        allowedModels: ['openai/gpt-5.4-mini'],
        defaultTag: 'team',
      },
    });
    await p.subAccount.create({
      data: { id: 'sa_2', workspaceId: 'ws_1', name: 'gone', status: 'suspended' },
    });
    await p.subAccountKey.create({
      data: {
        id: 'key_1',
        subAccountId: 'sa_1',
        workspaceId: 'ws_1',
        hash: hash('sk-tg-one'),
        prefix: 'sk-tg-o',
      },
    });
    await p.subAccountKey.create({
      data: {
        id: 'key_2',
        subAccountId: 'sa_2',
        workspaceId: 'ws_1',
        hash: hash('sk-tg-two'),
        prefix: 'sk-tg-t',
        revokedAt: new Date(),
        expiresAt: new Date('2030-01-01T00:00:00Z'),
      },
    });
    await p.tagBudget.create({
      data: { id: 'bud_1', workspaceId: 'ws_1', tag: 'team', capMicros: 300_000n },
    });
    await p.modelPrice.create({
      data: {
        id: 'price_1',
        workspaceId: 'ws_1',
        model: 'vllm/llama',
        inputPerMTokMicros: 100_000n,
        outputPerMTokMicros: 200_000n,
      },
    });
    await p.providerCredential.create({
      data: {
        id: 'pk_1',
        workspaceId: 'ws_1',
        provider: 'vllm',
        baseUrl: 'http://127.0.0.1:9999/v1',
        sealedKey: seal(secret, 'sk-byok'),
        keyHint: 'byok',
      },
    });
    await p.policyState.create({ data: { id: 1, revision: 42n } });
  }, 120_000);
  afterAll(async () => {
    await t?.cleanup();
  });

  it('builds, stores and announces a snapshot every data plane accepts', async () => {
    const bus = createBus({ prefix: 'pub-test' });
    const announced: number[] = [];
    await bus.policy.subscribe((rev) => announced.push(rev));
    const publisher = createPolicyPublisher({ prisma: t.db.prisma, bus: bus.policy });
    expect(await publisher.publishNow()).toBe(42);
    const decoded = decodeSnapshot((await bus.policy.getLatest())!);
    if (!decoded.ok) throw new Error(decoded.message);
    const s = decoded.value;
    expect(s.revision).toBe(42);
    expect(s.workspaces).toEqual([
      {
        id: 'ws_1',
        markupPercent: 12.5,
        spendCapMicros: 5_000_000,
        budgetPeriod: 'monthly',
        byokWaivesMarkup: false,
      },
    ]);
    expect(s.subAccounts.find((a) => a.id === 'sa_1')).toMatchObject({
      spendCapMicros: 1_000_000,
      budgetPeriod: 'daily',
      rateLimitRpm: 10,
      allowedModels: ['openai/gpt-5.4-mini'],
      defaultTag: 'team',
    });
    expect(s.keys.find((k) => k.id === 'key_2')).toMatchObject({
      revoked: true,
      expiresAt: '2030-01-01T00:00:00.000Z',
    });
    expect(s.tagBudgets[0]).toMatchObject({ tag: 'team', capMicros: 300_000 });
    expect(s.prices[0]).toMatchObject({
      model: 'vllm/llama',
      inputPerMTok: 100_000,
      cachedInputPerMTok: 100_000,
    });
    expect(s.providerRoutes[0]).toMatchObject({
      provider: 'vllm',
      baseUrl: 'http://127.0.0.1:9999/v1',
    });
    const policy = compile(s);
    const d = decide(policy, {
      keyHash: hash('sk-tg-two'),
      model: 'vllm/llama',
      nowMs: Date.now(),
    });
    expect(d.ok).toBe(false);
    await new Promise((r) => setTimeout(r, 20));
    expect(announced).toContain(42);
    // Coalescing: a burst of calls publishes in order and ends on the newest revision.
    await t.db.prisma.policyState.update({ where: { id: 1 }, data: { revision: 43n } });
    const revs = await Promise.all([
      publisher.publishNow(),
      publisher.publishNow(),
      publisher.publishNow(),
    ]);
    expect(Math.max(...revs)).toBe(43);
    await bus.close();
  });

  it('reads every row of a policy larger than one page of the read', async () => {
    const p = t.db.prisma;
    const n = 2_345;
    const ids = Array.from(
      { length: n },
      (_, i) => `sa_page_${String((i * 7919) % n).padStart(5, '0')}`,
    );
    await p.subAccount.createMany({
      data: ids.map((id) => ({ id, workspaceId: 'ws_1', name: id })),
    });
    await p.subAccountKey.createMany({
      data: ids.map((id, i) => ({
        id: `key_page_${i}`,
        subAccountId: id,
        workspaceId: 'ws_1',
        hash: hash(`sk-tg-page-${i}`),
        prefix: 'sk-tg-p',
      })),
    });
    const bus = createBus({ prefix: 'pub-pages' });
    const publisher = createPolicyPublisher({ prisma: p, bus: bus.policy });
    try {
      await publisher.publishNow();
      const decoded = decodeSnapshot((await bus.policy.getLatest())!);
      if (!decoded.ok) throw new Error(decoded.message);
      const subAccounts = decoded.value.subAccounts.map((a) => a.id);
      expect(new Set(subAccounts).size).toBe(subAccounts.length);
      expect(subAccounts.filter((id) => id.startsWith('sa_page_')).sort()).toEqual([...ids].sort());
      expect(decoded.value.keys.filter((k) => k.id.startsWith('key_page_'))).toHaveLength(n);
    } finally {
      await publisher.stop();
      await bus.close();
    }
  });
});
