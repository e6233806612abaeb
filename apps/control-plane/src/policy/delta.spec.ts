import { createHash } from 'node:crypto';
import type { PolicyBus } from '@tollgate/bus';
import { createBus } from '@tollgate/bus';
import {
  applyDelta,
  type CompiledPolicy,
  catchUp,
  compile,
  decide,
  decodePolicyMessage,
  decodeSnapshot,
  encodeDelta,
  encodeSnapshot,
} from '@tollgate/policy';
import { openTestDatabase, pgAvailable, type TestDatabase } from '@tollgate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceDeps } from '../services/context.ts';
import { deletePrice, setPrice } from '../services/prices.ts';
import { deleteProviderKey, setProviderKey } from '../services/provider-keys.ts';
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
    const publisher = createPolicyPublisher({ prisma: t.db.prisma, bus: bus.policy });
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
    // "Latest" is the base plus the log: the changes cost no new base, and a plane reading it
    // (started late, or having missed an announcement) reaches the same policy from the log.
    expect(await bus.policy.latestRevision()).toBe(base);
    const logged = await bus.policy.readDeltas(base);
    expect(logged.map((d) => d.revision)).toEqual([base + 1, base + 2]);
    const late = latestPolicy(bus.policy);
    expect((await late).revision).toBe(base + 2);
    expect((await late).subAccounts.get(created.subAccount.id)?.status).toBe('suspended');
    // Compaction folds the log into a new base.
    expect(await publisher.compactNow()).toBe(base + 2);
    expect(await bus.policy.latestRevision()).toBe(base + 2);
    expect(await bus.policy.readDeltas(base)).toEqual([]);
    const decoded = decodeSnapshot((await bus.policy.getLatest())!);
    if (!decoded.ok) throw new Error(decoded.message);
    expect(decoded.value.subAccounts.find((a) => a.id === created.subAccount.id)?.status).toBe(
      'suspended',
    );
    await publisher.stop();
    await bus.close();
  });
});

describe('policy publisher: deletions outright are deltas too', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase('pglite');
    await t.db.prisma.workspace.create({ data: { id: 'ws_x', name: 'deletions' } });
  }, 120_000);
  afterAll(async () => {
    await t?.cleanup();
  });

  it('a price override or a provider key deleted is announced as a delta, not a full snapshot', async () => {
    const bus = createBus({ prefix: 'delete-delta-test' });
    const messages: string[] = [];
    await bus.policy.subscribe((_rev, payload) => {
      if (payload) messages.push(payload);
    });
    const publisher = createPolicyPublisher({ prisma: t.db.prisma, bus: bus.policy });
    try {
      const base = await publisher.publishNow();
      const deps = {
        prisma: t.db.prisma,
        secretKey: Buffer.alloc(32, 1),
        allowPrivateUpstreams: true,
        onPolicyChange: publisher.onPolicyChange,
      };
      const caller = { workspaceId: 'ws_x', actor: 'test' };
      const sa = await createSubAccount(deps, caller, { name: 'byok' });
      await setPrice(deps, caller, {
        model: 'openai/gpt-5.4-mini',
        inputPerMtokCents: 1,
        outputPerMtokCents: 2,
      });
      const workspaceKey = await setProviderKey(deps, caller, {
        provider: 'vllm',
        apiKey: 'sk-workspace-key',
        baseUrl: 'http://10.0.0.1:8000/v1',
      });
      const ownKey = await setProviderKey(
        deps,
        caller,
        { provider: 'openai', apiKey: 'sk-own-key-123' },
        sa.subAccount.id,
      );
      await publisher.idle();
      const before = await latestPolicy(bus.policy);
      expect(before.prices.get('ws_x')?.has('openai/gpt-5.4-mini')).toBe(true);
      expect(before.providerRoutes.get('ws_x')?.has('vllm')).toBe(true);
      expect(before.subAccountRoutes.get(sa.subAccount.id)?.has('openai')).toBe(true);

      await deletePrice(deps, caller, 'openai/gpt-5.4-mini');
      await deleteProviderKey(deps, caller, workspaceKey.id);
      await deleteProviderKey(deps, caller, ownKey.id);
      await publisher.idle();
      for (const until = Date.now() + 10_000; messages.length < 8 && Date.now() < until; ) {
        await new Promise((r) => setTimeout(r, 10));
      }
      const kinds = messages.map((m) => {
        const decoded = decodePolicyMessage(m);
        if (!decoded.ok) throw new Error(decoded.message);
        return decoded.value.kind;
      });
      // The start-up snapshot, then one delta per change: 4 creations, 3 deletions.
      expect(kinds).toEqual(['snapshot', ...Array(7).fill('delta')]);
      const after = await latestPolicy(bus.policy);
      expect(after.revision).toBe(base + 7);
      expect(after.prices.get('ws_x')?.has('openai/gpt-5.4-mini') ?? false).toBe(false);
      expect(after.providerRoutes.get('ws_x')?.has('vllm') ?? false).toBe(false);
      expect(after.subAccountRoutes.get(sa.subAccount.id)?.has('openai') ?? false).toBe(false);
      // The same as a fresh snapshot of the books says.
      expect(await publisher.compactNow()).toBe(base + 7);
      const fresh = decodeSnapshot((await bus.policy.getLatest())!);
      if (!fresh.ok) throw new Error(fresh.message);
      expect(fresh.value.prices).toEqual([]);
      expect(fresh.value.providerRoutes).toEqual([]);
      expect(fresh.value.subAccountRoutes ?? []).toEqual([]);
    } finally {
      await publisher.stop();
      await bus.close();
    }
  });
});

/** What a data plane reading "latest" reaches: the base, then the logged deltas after it. */
async function latestPolicy(bus: PolicyBus): Promise<CompiledPolicy> {
  const decoded = decodeSnapshot((await bus.getLatest())!);
  if (!decoded.ok) throw new Error(decoded.message);
  const base = compile(decoded.value);
  const caught = catchUp(
    base,
    (await bus.readDeltas(base.revision)).map((d) => d.payload),
  );
  if (caught.stopped) throw new Error(`log stopped: ${JSON.stringify(caught.stopped)}`);
  return caught.policy;
}

describe('policy publisher: the log and compaction', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase('pglite');
    await t.db.prisma.workspace.create({ data: { id: 'ws_c', name: 'compaction' } });
  }, 120_000);
  afterAll(async () => {
    await t?.cleanup();
  });

  it('builds a new base after compactEvery deltas, and after compactAfterMs for fewer', async () => {
    const bus = createBus({ prefix: 'compact-test' });
    const publisher = createPolicyPublisher({
      prisma: t.db.prisma,
      bus: bus.policy,
      compactEvery: 3,
      compactAfterMs: 300,
    });
    try {
      const base = await publisher.publishNow();
      const deps: ServiceDeps = {
        prisma: t.db.prisma,
        secretKey: Buffer.alloc(32, 1),
        onPolicyChange: publisher.onPolicyChange,
      };
      const caller = { workspaceId: 'ws_c', actor: 'test' };
      const a = await createSubAccount(deps, caller, { name: 'a' });
      await updateSubAccount(deps, caller, a.subAccount.id, { spendCapCents: 100 });
      await publisher.idle();
      // Two deltas: logged, no new base.
      expect(await bus.policy.latestRevision()).toBe(base);
      expect((await bus.policy.readDeltas(base)).length).toBe(2);
      await updateSubAccount(deps, caller, a.subAccount.id, { spendCapCents: 200 });
      await publisher.idle();
      // The third makes a base due: built, stored, the log folded into it.
      expect(await bus.policy.latestRevision()).toBe(base + 3);
      expect(await bus.policy.readDeltas(base)).toEqual([]);
      // One more waits compactAfterMs, then is folded too.
      await updateSubAccount(deps, caller, a.subAccount.id, { status: 'suspended' });
      await publisher.idle();
      expect((await bus.policy.readDeltas(base + 3)).length).toBe(1);
      const deadline = Date.now() + 10_000;
      while ((await bus.policy.latestRevision()) !== base + 4 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 25));
      }
      expect(await bus.policy.latestRevision()).toBe(base + 4);
      expect((await latestPolicy(bus.policy)).subAccounts.get(a.subAccount.id)?.status).toBe(
        'suspended',
      );
    } finally {
      await publisher.stop();
      await bus.close();
    }
  });

  it('a base of another history in Redis (a new database, the same Redis) is replaced whole', async () => {
    const bus = createBus({ prefix: 'other-history-test' });
    // What an earlier installation left: a base far ahead of this database's revisions, and a log
    // whose next delta would chain from it.
    const other = encodeSnapshot({
      version: 1,
      revision: 5_000,
      generatedAt: new Date().toISOString(),
      workspaces: [],
      subAccounts: [],
      keys: [],
      tagBudgets: [],
      prices: [],
      providerRoutes: [],
    });
    await bus.policy.setLatest(other, 5_000, 'an-earlier-installation');
    await bus.policy.appendDelta(
      5_001,
      encodeDelta({
        version: 1,
        baseRevision: 5_000,
        revision: 5_001,
        upserts: {},
        deletes: { workspaces: ['ws_c'] },
      }),
    );
    const publisher = createPolicyPublisher({ prisma: t.db.prisma, bus: bus.policy });
    try {
      const base = await publisher.publishNow();
      expect(base).toBeLessThan(5_000);
      expect(await bus.policy.latestRevision()).toBe(base);
      expect(await bus.policy.readDeltas(-1)).toEqual([]);
      const deps: ServiceDeps = {
        prisma: t.db.prisma,
        secretKey: Buffer.alloc(32, 1),
        onPolicyChange: publisher.onPolicyChange,
      };
      const caller = { workspaceId: 'ws_c', actor: 'test' };
      const made = await createSubAccount(deps, caller, { name: 'x' });
      await publisher.idle();
      const policy = await latestPolicy(bus.policy);
      expect(policy.revision).toBe(base + 1);
      expect(policy.workspaces.get('ws_c')).toBeDefined();
      expect(policy.subAccounts.get(made.subAccount.id)).toBeDefined();
      // A compaction of this history keeps the deltas logged after it.
      await bus.policy.appendDelta(
        base + 2,
        encodeDelta({
          version: 1,
          baseRevision: base + 1,
          revision: base + 2,
          upserts: {},
          deletes: {},
        }),
      );
      expect(await publisher.compactNow()).toBe(base + 1);
      expect((await bus.policy.readDeltas(base + 1)).map((d) => d.revision)).toEqual([base + 2]);
    } finally {
      await publisher.stop();
      await bus.close();
    }
  });

  it('a restarted control plane takes up "latest" where it stands instead of publishing it in full', async () => {
    const bus = createBus({ prefix: 'restart-test' });
    const snapshots: number[] = [];
    await bus.policy.subscribe((rev, payload) => {
      if (!payload) return;
      const m = decodePolicyMessage(payload);
      if (m.ok && m.value.kind === 'snapshot') snapshots.push(rev);
    });
    const depsOf = (p: { onPolicyChange: ServiceDeps['onPolicyChange'] }): ServiceDeps => ({
      prisma: t.db.prisma,
      secretKey: Buffer.alloc(32, 1),
      onPolicyChange: p.onPolicyChange,
    });
    const caller = { workspaceId: 'ws_c', actor: 'test' };
    const before = createPolicyPublisher({ prisma: t.db.prisma, bus: bus.policy });
    const base = await before.start();
    const made = await createSubAccount(depsOf(before), caller, { name: 'restart' });
    await updateSubAccount(depsOf(before), caller, made.subAccount.id, { spendCapCents: 5 });
    await before.idle();
    await before.stop();
    const after = createPolicyPublisher({ prisma: t.db.prisma, bus: bus.policy });
    try {
      expect(await after.start()).toBe(base + 2);
      expect(after.publishedRevision()).toBe(base + 2);
      // Nothing rebuilt or announced: the base and its log stand as they were.
      expect(await bus.policy.latestRevision()).toBe(base);
      await new Promise((r) => setTimeout(r, 20));
      expect(snapshots).toEqual([base]);
      // And the next change chains on them as a delta.
      await updateSubAccount(depsOf(after), caller, made.subAccount.id, { spendCapCents: 7 });
      await after.idle();
      const policy = await latestPolicy(bus.policy);
      expect(policy.revision).toBe(base + 3);
      expect(policy.subAccounts.get(made.subAccount.id)?.spendCapMicros).toBe(70_000);
    } finally {
      await after.stop();
    }
    // A revision missing from the log (here: committed while no publisher ran): the restart
    // publishes in full.
    await updateSubAccount(depsOf({ onPolicyChange: undefined }), caller, made.subAccount.id, {
      spendCapCents: 9,
    });
    const again = createPolicyPublisher({ prisma: t.db.prisma, bus: bus.policy });
    try {
      expect(await again.start()).toBe(base + 4);
      expect(await bus.policy.latestRevision()).toBe(base + 4);
      await new Promise((r) => setTimeout(r, 20));
      expect(snapshots).toEqual([base, base + 4]);
    } finally {
      await again.stop();
      await bus.close();
    }
  });

  it('a restarted control plane sizes compaction by the base it takes up', async () => {
    const bus = createBus({ prefix: 'restart-size-test' });
    const state = await t.db.prisma.policyState.upsert({
      where: { id: 1 },
      create: { id: 1 },
      update: {},
    });
    const base = Number(state.revision);
    // What an earlier process of this history left: a base of 8 MB (one delta per 10 kB: 800
    // before a new one is due) and 600 deltas after it. Neither is read as policy by the publisher.
    await bus.policy.setLatest('x'.repeat(8_000_000), base, state.history);
    for (let rev = base + 1; rev <= base + 600; rev++) await bus.policy.appendDelta(rev, `d${rev}`);
    await t.db.prisma.policyState.update({
      where: { id: 1 },
      data: { revision: BigInt(base + 600) },
    });
    const publisher = createPolicyPublisher({ prisma: t.db.prisma, bus: bus.policy });
    try {
      expect(await publisher.start()).toBe(base + 600);
      const deps: ServiceDeps = {
        prisma: t.db.prisma,
        secretKey: Buffer.alloc(32, 1),
        onPolicyChange: publisher.onPolicyChange,
      };
      await createSubAccount(deps, { workspaceId: 'ws_c', actor: 'test' }, { name: 'sized' });
      await publisher.idle();
      // 601 logged: not yet due for this base (it would be at the small-policy default of 500).
      expect((await bus.policy.readDeltas(base)).length).toBe(601);
      expect(await bus.policy.latestRevision()).toBe(base);
    } finally {
      await publisher.stop();
      await bus.close();
    }
  });

  it('a control plane behind a base the other built takes it up, not a full snapshot of its own', async () => {
    const bus = createBus({ prefix: 'two-cp-compact-test' });
    const snapshots: number[] = [];
    await bus.policy.subscribe((rev, payload) => {
      if (!payload) return;
      const m = decodePolicyMessage(payload);
      if (m.ok && m.value.kind === 'snapshot') snapshots.push(rev);
    });
    const one = createPolicyPublisher({ prisma: t.db.prisma, bus: bus.policy, compactEvery: 3 });
    const two = createPolicyPublisher({ prisma: t.db.prisma, bus: bus.policy, gapWaitMs: 2_000 });
    try {
      await one.start();
      const start = await two.start();
      const depsOf = (p: typeof one): ServiceDeps => ({
        prisma: t.db.prisma,
        secretKey: Buffer.alloc(32, 1),
        onPolicyChange: p.onPolicyChange,
      });
      const caller = { workspaceId: 'ws_c', actor: 'test' };
      const made = await createSubAccount(depsOf(one), caller, { name: 'behind' });
      for (let i = 1; i <= 3; i++) {
        await updateSubAccount(depsOf(one), caller, made.subAccount.id, { spendCapCents: i });
      }
      await one.idle();
      // The first compacted past the second: the deltas after `start` are gone from the log.
      expect(await bus.policy.latestRevision()).toBe(start + 4);
      expect(await bus.policy.readDeltas(start)).toEqual([]);
      const began = Date.now();
      await updateSubAccount(depsOf(two), caller, made.subAccount.id, { status: 'suspended' });
      await two.idle();
      // Announced as a delta on the base, well before the 2 s after which it would publish in full.
      expect(two.publishedRevision()).toBe(start + 5);
      expect(Date.now() - began).toBeLessThan(1_500);
      await new Promise((r) => setTimeout(r, 20));
      expect(snapshots.filter((r) => r > start)).toEqual([]);
      const policy = await latestPolicy(bus.policy);
      expect(policy.revision).toBe(start + 5);
      expect(policy.subAccounts.get(made.subAccount.id)?.status).toBe('suspended');
    } finally {
      await one.stop();
      await two.stop();
      await bus.close();
    }
  });

  it('a database restored behind what Redis saw forks its history: the next base replaces the log', async () => {
    const bus = createBus({ prefix: 'restored-test' });
    const depsOf = (p: { onPolicyChange: ServiceDeps['onPolicyChange'] }): ServiceDeps => ({
      prisma: t.db.prisma,
      secretKey: Buffer.alloc(32, 1),
      onPolicyChange: p.onPolicyChange,
    });
    const caller = { workspaceId: 'ws_c', actor: 'test' };
    const before = createPolicyPublisher({ prisma: t.db.prisma, bus: bus.policy });
    const base = await before.start();
    const made = await createSubAccount(depsOf(before), caller, { name: 'restored' });
    const backup = await t.db.prisma.policyState.findUniqueOrThrow({ where: { id: 1 } });
    for (let i = 1; i <= 3; i++) {
      await updateSubAccount(depsOf(before), caller, made.subAccount.id, { spendCapCents: i });
    }
    await before.idle();
    await before.stop();
    expect((await bus.policy.readDeltas(base)).length).toBe(4);
    // The database goes back to the backup's revision (as a restore would); Redis keeps the log.
    await t.db.prisma.policyState.update({
      where: { id: 1 },
      data: { revision: backup.revision },
    });
    const after = createPolicyPublisher({ prisma: t.db.prisma, bus: bus.policy });
    try {
      expect(await after.start()).toBe(Number(backup.revision));
      const state = await t.db.prisma.policyState.findUniqueOrThrow({ where: { id: 1 } });
      expect(state.history).not.toBe(backup.history);
      expect(await bus.policy.latestHistory()).toBe(state.history);
      expect(await bus.policy.latestRevision()).toBe(Number(backup.revision));
      expect(await bus.policy.readDeltas(-1)).toEqual([]);
      // The next change reuses a revision the old log had: announced, logged and in force.
      await updateSubAccount(depsOf(after), caller, made.subAccount.id, { status: 'suspended' });
      await after.idle();
      const policy = await latestPolicy(bus.policy);
      expect(policy.revision).toBe(Number(backup.revision) + 1);
      expect(policy.subAccounts.get(made.subAccount.id)?.status).toBe('suspended');
    } finally {
      await after.stop();
      await bus.close();
    }
  });

  it("two control planes: each takes the other's revisions from the log, not from a full snapshot", async () => {
    const bus = createBus({ prefix: 'two-cp-test' });
    const snapshots: number[] = [];
    const deltas: number[] = [];
    await bus.policy.subscribe((rev, payload) => {
      if (!payload) return;
      const m = decodePolicyMessage(payload);
      if (m.ok) (m.value.kind === 'delta' ? deltas : snapshots).push(rev);
    });
    const one = createPolicyPublisher({ prisma: t.db.prisma, bus: bus.policy });
    const two = createPolicyPublisher({ prisma: t.db.prisma, bus: bus.policy });
    try {
      const start = await one.publishNow();
      await two.publishNow();
      const depsOf = (p: typeof one): ServiceDeps => ({
        prisma: t.db.prisma,
        secretKey: Buffer.alloc(32, 1),
        onPolicyChange: p.onPolicyChange,
      });
      const caller = { workspaceId: 'ws_c', actor: 'test' };
      const made = await createSubAccount(depsOf(one), caller, { name: 'shared' });
      const id = made.subAccount.id;
      // Alternating control planes: every change after the first is preceded by the other's.
      for (let i = 1; i <= 6; i++) {
        await updateSubAccount(depsOf(i % 2 === 0 ? one : two), caller, id, {
          spendCapCents: 100 * i,
        });
        await (i % 2 === 0 ? one : two).idle();
      }
      await one.idle();
      await two.idle();
      const last = start + 7;
      for (const until = Date.now() + 10_000; deltas.length < 7 && Date.now() < until; ) {
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(deltas.sort((x, y) => x - y)).toEqual(
        Array.from({ length: 7 }, (_, i) => start + 1 + i),
      );
      // The start-up snapshots aside (revision `start`), nothing was published in full.
      expect(snapshots.filter((r) => r > start)).toEqual([]);
      // The last change was the first's; the second took the one before from the log.
      expect(one.publishedRevision()).toBe(last);
      expect(two.publishedRevision()).toBe(last - 1);
      const policy = await latestPolicy(bus.policy);
      expect(policy.revision).toBe(last);
      expect(policy.subAccounts.get(id)?.spendCapMicros).toBe(6_000_000);
    } finally {
      await one.stop();
      await two.stop();
      await bus.close();
    }
  });
});

describe.skipIf(!pgAvailable())('policy publisher: compaction beside the announcements', () => {
  let t: TestDatabase;
  const n = 20_000;
  beforeAll(async () => {
    t = await openTestDatabase('postgres');
    const p = t.db.prisma;
    await p.workspace.create({ data: { id: 'ws_big', name: 'big' } });
    const ids = Array.from({ length: n }, (_, i) => `sa_big_${i}`);
    for (let at = 0; at < n; at += 5_000) {
      const part = ids.slice(at, at + 5_000);
      await p.subAccount.createMany({
        data: part.map((id) => ({ id, workspaceId: 'ws_big', name: id })),
      });
      await p.subAccountKey.createMany({
        data: part.map((id) => ({
          id: `key_${id}`,
          subAccountId: id,
          workspaceId: 'ws_big',
          hash: hash(id),
          prefix: 'sk-tg-b',
        })),
      });
    }
  }, 120_000);
  afterAll(async () => {
    await t?.cleanup();
  });

  it('a change is announced while a new base is still being built, not after it', async () => {
    const bus = createBus({ prefix: 'compact-beside' });
    const publisher = createPolicyPublisher({ prisma: t.db.prisma, bus: bus.policy });
    const deltaAt: number[] = [];
    await bus.policy.subscribe((_rev, payload) => {
      if (!payload) return;
      const m = decodePolicyMessage(payload);
      if (m.ok && m.value.kind === 'delta') deltaAt.push(Date.now());
    });
    try {
      const base = await publisher.publishNow();
      const deps: ServiceDeps = {
        prisma: t.db.prisma,
        secretKey: Buffer.alloc(32, 1),
        onPolicyChange: publisher.onPolicyChange,
      };
      // A base of 20,000 sub-accounts and keys takes a while to read and encode; the suspension
      // committed meanwhile does not wait for it.
      let compactedAt = 0;
      const compaction = publisher.compactNow().then((rev) => {
        compactedAt = Date.now();
        return rev;
      });
      await updateSubAccount(deps, { workspaceId: 'ws_big', actor: 'test' }, 'sa_big_7', {
        status: 'suspended',
      });
      for (const until = Date.now() + 10_000; deltaAt.length === 0 && Date.now() < until; ) {
        await new Promise((r) => setTimeout(r, 5));
      }
      expect(deltaAt).toHaveLength(1);
      // The base read the books as they were when it began: before the change, or just after.
      expect([base, base + 1]).toContain(await compaction);
      expect(deltaAt[0]!).toBeLessThan(compactedAt);
      const policy = await latestPolicy(bus.policy);
      expect(policy.revision).toBe(base + 1);
      expect(policy.subAccounts.get('sa_big_7')?.status).toBe('suspended');
      expect(policy.subAccounts.size).toBe(n);
    } finally {
      await publisher.stop();
      await bus.close();
    }
  }, 120_000);

  it('stopping abandons a compaction between two reads instead of waiting for it', async () => {
    const bus = createBus({ prefix: 'compact-stop' });
    const errors: unknown[] = [];
    const publisher = createPolicyPublisher({
      prisma: t.db.prisma,
      bus: bus.policy,
      onError: (err) => errors.push(err),
    });
    try {
      await publisher.publishNow();
      const began = Date.now();
      await publisher.compactNow();
      const whole = Date.now() - began;
      await publisher.idle();
      const second = publisher.compactNow().then(
        () => 'stored',
        (e) => `failed: ${e}`,
      );
      await new Promise((r) => setTimeout(r, 20));
      const stopping = Date.now();
      await publisher.stop();
      // A page or two of the read, not the whole of a base of 20,000 sub-accounts and keys.
      expect(Date.now() - stopping).toBeLessThan(whole / 2);
      // Abandoned, not stored, and not reported as a failure.
      expect(await second).toBe('failed: SnapshotCancelled');
      expect(errors).toEqual([]);
    } finally {
      await publisher.stop();
      await bus.close();
    }
  }, 120_000);
});
