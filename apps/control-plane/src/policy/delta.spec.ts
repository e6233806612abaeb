import { createHash } from 'node:crypto';
import { createBus } from '@tollgate/bus';
import {
  applyDelta,
  type CompiledPolicy,
  compile,
  decide,
  decodePolicyMessage,
  decodeSnapshot,
} from '@tollgate/policy';
import { openTestDatabase, type TestDatabase } from '@tollgate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceDeps } from '../services/context.ts';
import { createSubAccount, updateSubAccount } from '../services/sub-accounts.ts';
import { createPolicyPublisher } from './publisher.ts';

const hash = (s: string) => createHash('sha256').update(s).digest('hex');

describe('policy publisher: deltas per committed change', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase('pglite');
    await t.db.prisma.workspace.create({ data: { id: 'ws_d', name: 'deltas' } });
  }, 120_000);
  afterAll(async () => {
    await t?.cleanup();
  });

  it('announces one chaining delta per change; applied deltas equal a fresh snapshot', async () => {
    const bus = createBus({ prefix: 'delta-test' });
    const messages: string[] = [];
    await bus.policy.subscribe((_rev, payload) => {
      if (payload) messages.push(payload);
    });
    const publisher = createPolicyPublisher({
      prisma: t.db.prisma,
      bus: bus.policy,
      latestDebounceMs: 20,
    });
    const base = await publisher.publishNow();
    const deps: ServiceDeps = {
      prisma: t.db.prisma,
      secretKey: Buffer.alloc(32, 1),
      onPolicyChange: publisher.onPolicyChange,
    };
    const caller = { workspaceId: 'ws_d', actor: 'test' };
    const created = await createSubAccount(deps, caller, { name: 'alpha', spendCapCents: 100 });
    await updateSubAccount(deps, caller, created.subAccount.id, { status: 'suspended' });
    await publisher.idle();
    // Announcements arrive asynchronously (pub/sub); wait for the three, bounded.
    for (const until = Date.now() + 10_000; messages.length < 3 && Date.now() < until; ) {
      await new Promise((r) => setTimeout(r, 10));
    }

    let policy: CompiledPolicy | null = null;
    const kinds: string[] = [];
    for (const text of messages) {
      const m = decodePolicyMessage(text);
      if (!m.ok) throw new Error(m.message);
      kinds.push(m.value.kind);
      if (m.value.kind === 'snapshot') policy = compile(m.value.snapshot);
      else {
        const applied = applyDelta(policy!, m.value.delta);
        if (!applied.ok) throw new Error(applied.reason);
        policy = applied.policy;
      }
    }
    expect(kinds).toEqual(['snapshot', 'delta', 'delta']);
    expect(policy!.revision).toBe(base + 2);
    const d = decide(policy!, {
      keyHash: hash(created.key),
      model: 'openai/gpt-5.4-mini',
      nowMs: Date.now(),
    });
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.reason).toBe('sub_account_suspended');
    expect(policy!.subAccounts.get(created.subAccount.id)?.spendCapMicros).toBe(1_000_000);
    // "latest" catches up after the debounce, for planes that missed a delta. The debounce is a
    // timer, so on a loaded machine it is polled for rather than assumed done after a fixed sleep.
    const latestRevision = async () => {
      const text = await bus.policy.getLatest();
      const latest = text === null ? null : decodeSnapshot(text);
      return latest?.ok ? latest.value.revision : -1;
    };
    const deadline = Date.now() + 10_000;
    while ((await latestRevision()) < base + 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
      await publisher.idle();
    }
    expect(await latestRevision()).toBe(base + 2);
    await publisher.stop();
    await bus.close();
  });
});
