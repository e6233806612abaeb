import { randomBytes } from 'node:crypto';
import { type Bus, type Counter, createBus } from '@tollgate/bus';
import {
  type CounterTopUpSummary,
  createCounterReconciler,
  createTouchedCounters,
  writeUsage,
} from '@tollgate/control-plane';
import type { PrismaClient } from '@tollgate/db';
import { periodKey } from '@tollgate/policy';
import {
  openTestDatabase,
  type PrivateRedis,
  pgAvailable,
  redisAvailable,
  scriptsRun,
  startPrivateRedis,
  usageEvent,
  waitUntil,
} from '@tollgate/testkit';
import { describe, expect, it } from 'vitest';

/**
 * The counter top-up at more than one chunk of counters (RAISE_CHUNK = 500 per atomic step), and
 * what a pass reads: every counter the first time under an epoch and on the slow full pass, else
 * only what usage and policy changes touched. Embedded (PGlite, in-process counters) and scale-out
 * (PostgreSQL, a Redis of the test's own, so the scripts it runs can be counted).
 */
const SETUPS = [
  { db: 'pglite', counters: 'in-process' },
  { db: 'postgres', counters: 'redis' },
] as const;
type Setup = (typeof SETUPS)[number];
const skip = (s: Setup) =>
  (s.db === 'postgres' && !pgAvailable()) || (s.counters === 'redis' && !redisAvailable());

interface Rig {
  prisma: PrismaClient;
  ws: string;
  bus: Bus;
  redis: PrivateRedis | null;
  ids: string[];
  /** The sub-account's counter of the current month. */
  sa(i: number): Counter;
  spent(cs: Counter[]): Promise<number[]>;
  /** Usage of sub-account i, billed `micros`. */
  spend(i: number, micros: number, tags?: string[]): ReturnType<typeof usageEvent>;
  /** Lua scripts the counters' Redis ran so far (0 in-process). */
  scripts(): Promise<number>;
  close(): Promise<void>;
}

/** A database holding one workspace (capped) with a tag budget `team` and `n` capped sub-accounts,
 * and counters of its own. */
async function rig(setup: Setup, n: number): Promise<Rig> {
  const { db, cleanup } = await openTestDatabase(setup.db);
  const ws = `ws_top_${randomBytes(4).toString('hex')}`;
  const cap = 10n ** 12n;
  await db.prisma.workspace.create({ data: { id: ws, name: ws, spendCapMicros: cap } });
  await db.prisma.tagBudget.create({
    data: { id: `tb_${ws}`, workspaceId: ws, tag: 'team', capMicros: cap },
  });
  const ids = Array.from({ length: n }, (_, i) => `sa_top_${i}`);
  await db.prisma.subAccount.createMany({
    data: ids.map((id) => ({ id, workspaceId: ws, name: id, spendCapMicros: cap })),
  });
  const redis = setup.counters === 'redis' ? await startPrivateRedis() : null;
  const bus = createBus({ redisUrl: redis?.url, prefix: 'top-up' });
  const month = periodKey('monthly', Date.now());
  return {
    prisma: db.prisma,
    ws,
    bus,
    redis,
    ids,
    sa: (i) => ({ scope: `sa:${ids[i]}`, capMicros: Number(cap), periodKey: month }),
    spent: async (cs) => (await bus.limiter.spent(ws, cs)).map((b) => b.spentMicros),
    spend: (i, micros, tags = []) =>
      usageEvent({
        workspaceId: ws,
        subAccountId: ids[i]!,
        tags,
        providerCostMicros: micros,
        billedCostMicros: micros,
      }),
    scripts: async () => (redis === null ? 0 : scriptsRun(redis.url)),
    async close() {
      await bus.close();
      await redis?.stop();
      await cleanup();
    },
  };
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe.each(SETUPS)('counter top-up on $db with $counters counters', (setup) => {
  it.skipIf(skip(setup))(
    'raises the counters behind the books across chunks, never lowers those ahead, in a few scripts',
    async () => {
      const n = 1_234;
      const r = await rig(setup, n);
      try {
        const now = Date.now();
        await writeUsage(
          r.prisma,
          range(0, n).map((i) => r.spend(i, 1_000 + i, i % 2 ? ['team'] : [])),
        );
        const summaries: CounterTopUpSummary[] = [];
        let lines = 0;
        const reconciler = createCounterReconciler({
          prisma: r.prisma,
          limiter: r.bus.limiter,
          now: () => now,
          onTopUp: (s) => summaries.push(s),
          onRaised: () => lines++,
        });
        expect(await reconciler.runOnce()).toEqual([r.ws]);
        // i % 3 == 0: the counter is ahead of the books (settled, not ingested yet): kept.
        // i % 3 == 1: spend reached the books but never the counter (a settle given up on): raised.
        for (const i of range(0, n).filter((i) => i % 3 === 0)) {
          await r.bus.limiter.raise(r.ws, r.sa(i), 1_000_000_000 + i);
        }
        const behind = range(0, n).filter((i) => i % 3 === 1);
        await writeUsage(
          r.prisma,
          behind.map((i) => r.spend(i, 500 + i)),
        );
        const scripts = await r.scripts();
        const missed = sum(behind.map((i) => 500 + i));
        expect(await reconciler.topUpOnce()).toBe(behind.length + 1);
        // 1 236 counters: 3 scripts of at most 500, not one per counter.
        if (r.redis) expect((await r.scripts()) - scripts).toBe(3);
        expect(await r.spent(range(0, n).map(r.sa))).toEqual(
          range(0, n).map((i) =>
            i % 3 === 0 ? 1_000_000_000 + i : 1_000 + i + (i % 3 === 1 ? 500 + i : 0),
          ),
        );
        const month = periodKey('monthly', now);
        const [ws, tag] = await r.spent([
          { scope: 'ws', capMicros: null, periodKey: month },
          { scope: 'tag:team', capMicros: null, periodKey: month },
        ]);
        expect(ws).toBe(sum(range(0, n).map((i) => 1_000 + i)) + missed);
        expect(tag).toBe(sum(range(0, n).map((i) => (i % 2 ? 1_000 + i : 0))));
        // One summary: every sub-account's counter, the tag's and the workspace's read; the behind
        // ones and the workspace's raised by what they missed.
        expect(summaries).toHaveLength(1);
        expect(summaries[0]).toMatchObject({
          fullWorkspaces: 1,
          touchedWorkspaces: 0,
          counters: n + 2,
          raised: behind.length + 1,
          raisedMicros: 2 * missed,
          largest: { workspaceId: r.ws, scope: 'ws', spentMicros: ws, beforeMicros: ws! - missed },
          byWorkspace: [{ workspaceId: r.ws, raised: behind.length + 1, raisedMicros: 2 * missed }],
          failed: 0,
        });
        expect(lines).toBe(behind.length + 1);
        expect(await reconciler.topUpOnce()).toBe(0);
      } finally {
        await r.close();
      }
    },
    120_000,
  );

  it.skipIf(skip(setup))(
    'after usage of a few sub-accounts, a pass reads and raises only theirs; the slow full pass reads every counter',
    async () => {
      const n = 600;
      const r = await rig(setup, n);
      try {
        let clock = Date.now();
        await writeUsage(
          r.prisma,
          range(0, n).map((i) => r.spend(i, 1_000 + i, i < 10 ? ['team'] : [])),
        );
        const touched = createTouchedCounters();
        const summaries: CounterTopUpSummary[] = [];
        const reconciler = createCounterReconciler({
          prisma: r.prisma,
          limiter: r.bus.limiter,
          touched,
          fullTopUpEveryMs: 1_000,
          now: () => clock,
          onTopUp: (s) => summaries.push(s),
        });
        const pass = async () => {
          const scripts = await r.scripts();
          await reconciler.topUpOnce();
          return { ...summaries.at(-1)!, scripts: (await r.scripts()) - scripts };
        };
        expect(await reconciler.runOnce()).toEqual([r.ws]);
        // The first pass under the workspace's epoch reads every counter (n, the tag's, the ws').
        expect(await pass()).toMatchObject({ fullWorkspaces: 1, counters: n + 2, raised: 0 });
        // Spend that reached the books but not the counters: of 50 sub-accounts whose usage this
        // control plane did not ingest (another did, or it died before its pass), and of 3 whose
        // usage it ingested.
        const unseen = range(100, 150).map((i) => r.spend(i, 700));
        const seen = range(0, 3).map((i) => r.spend(i, 900));
        await writeUsage(r.prisma, [...unseen, ...seen]);
        touched.usage(seen);
        expect(await pass()).toMatchObject({
          fullWorkspaces: 0,
          touchedWorkspaces: 1,
          counters: 4, // the 3 sub-accounts' and the (capped) workspace's
          raised: 4,
          raisedMicros: 3 * 900 + (50 * 700 + 3 * 900),
          ...(r.redis ? { scripts: 1 } : {}),
        });
        expect(await r.spent(range(0, 3).map(r.sa))).toEqual(range(0, 3).map((i) => 1_900 + i));
        expect(await r.spent(range(100, 150).map(r.sa))).toEqual(
          range(100, 150).map((i) => 1_000 + i),
        );
        // Nothing touched (a refused request bills nothing; a key change puts no counter in force):
        // nothing read, nothing sent.
        const refused = { ...r.spend(5, 0), status: 'blocked' as const };
        touched.usage([refused]);
        touched.change({ workspaceId: r.ws, kind: 'key', id: 'key_x' });
        expect(await pass()).toMatchObject({
          fullWorkspaces: 0,
          touchedWorkspaces: 0,
          counters: 0,
          ...(r.redis ? { scripts: 0 } : {}),
        });
        // A policy change: the counters it puts in force (a tag budget's), read again after it.
        touched.change({ workspaceId: r.ws, kind: 'tag_budget', id: `tb_${r.ws}` });
        expect(await pass()).toMatchObject({ touchedWorkspaces: 1, counters: 1, raised: 0 });
        // The slow full pass (the safety net) finds the 50.
        clock += 1_000;
        expect(await pass()).toMatchObject({ fullWorkspaces: 1, counters: n + 2, raised: 50 });
        expect(await r.spent(range(100, 150).map(r.sa))).toEqual(
          range(100, 150).map((i) => 1_700 + i),
        );
      } finally {
        await r.close();
      }
    },
    120_000,
  );

  it.skipIf(skip(setup) || setup.counters !== 'redis')(
    'after Redis lost the counters: no top-up until they are rebuilt, then one that reads every counter',
    async () => {
      const n = 300;
      const r = await rig(setup, n);
      try {
        const now = Date.now();
        await writeUsage(
          r.prisma,
          range(0, n).map((i) => r.spend(i, 1_000 + i)),
        );
        const touched = createTouchedCounters();
        const summaries: CounterTopUpSummary[] = [];
        const reconciler = createCounterReconciler({
          prisma: r.prisma,
          limiter: r.bus.limiter,
          touched,
          fullTopUpEveryMs: 3_600_000,
          now: () => now,
          onTopUp: (s) => summaries.push(s),
        });
        expect(await reconciler.runOnce()).toEqual([r.ws]);
        await reconciler.topUpOnce();
        expect(summaries.at(-1)).toMatchObject({ fullWorkspaces: 1, counters: n + 1 });
        await r.redis!.restart(); // empty: every counter and the epoch marker gone
        await waitUntil('the limiter reconnected', async () => {
          const [epoch] = await r.bus.limiter.epochs([r.ws]).catch(() => ['unreachable']);
          return epoch === null;
        });
        // Usage ingested meanwhile: the top-up leaves the workspace to the rebuild and creates no
        // counter (one it created would carry no post-loss flag, and the rebuild would skip it).
        const seen = range(0, 5).map((i) => r.spend(i, 900));
        await writeUsage(r.prisma, seen);
        touched.usage(seen);
        expect(await reconciler.topUpOnce()).toBe(0);
        expect(summaries.at(-1)).toMatchObject({ fullWorkspaces: 0, touchedWorkspaces: 0 });
        expect(await r.spent(range(0, 5).map(r.sa))).toEqual([0, 0, 0, 0, 0]);
        expect(await reconciler.runOnce()).toEqual([r.ws]);
        expect(await r.spent(range(0, 5).map(r.sa))).toEqual(range(0, 5).map((i) => 1_900 + i));
        // Usage of 20 more sub-accounts that reached the books after the rebuild read them, not
        // seen by this control plane: the first pass under the new epoch reads every counter.
        await writeUsage(
          r.prisma,
          range(200, 220).map((i) => r.spend(i, 300)),
        );
        expect(await reconciler.topUpOnce()).toBe(21);
        expect(summaries.at(-1)).toMatchObject({ fullWorkspaces: 1, counters: n + 1 });
        expect(await r.spent(range(200, 220).map(r.sa))).toEqual(
          range(200, 220).map((i) => 1_300 + i),
        );
      } finally {
        await r.close();
      }
    },
    120_000,
  );
});
