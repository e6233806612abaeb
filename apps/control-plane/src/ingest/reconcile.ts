import { randomUUID } from 'node:crypto';
import type { Limiter } from '@tollgate/bus';
import type { PrismaClient } from '@tollgate/db';
import { booksBalances } from './books.ts';
import {
  type CounterTopUpOptions,
  type CounterTopUpSummary,
  createCounterTopUp,
  type WorkspaceEpoch,
} from './top-up.ts';
import type { TouchedCounters } from './touched.ts';

/**
 * Counters rebuilt from PostgreSQL when Redis lost them (SPEC §10).
 *
 * The spend counters live in Redis (or in process memory, embedded) and the data plane never reads
 * the database, so after a loss (FLUSHALL, a Redis restarted without persistence, a failover to an
 * empty replica, an embedded restart) only the control plane can put the period's spend back. Each
 * workspace has a counters-epoch marker next to its counters (same hash slot): it is set when the
 * counters are known to hold the books' figures and vanishes with them. This reconciler checks the
 * markers every `checkEveryMs` (one pipelined GET per workspace) and, for every workspace whose
 * marker is gone, computes the settled spend of the current period per counter from the books —
 * exactly the counters the data plane reserves on (`sa:<id>`, `tag:<name>` for tag budgets, `ws`,
 * each with the periodKey of its own budget period) — and calls `limiter.restore`, which adds it
 * once per loss, even with several control planes racing, and sets the marker.
 *
 * Meanwhile, data planes created with `requireRebuiltCounters` refuse capped requests of that
 * workspace (503, fail closed — as when Redis is down) instead of judging them against counters
 * that forgot the period's spend; without it they keep serving and the rebuild catches up.
 *
 * Every `topUpEveryMs` it also tops the counters in place up to the books (top-up.ts): spend that
 * reached the books but not the counters.
 */
export interface CounterReconcilerOptions {
  prisma: PrismaClient;
  limiter: Pick<
    Limiter,
    'epochs' | 'restore' | 'raiseMany' | 'raiseRequestsToday' | 'raiseThisMinute'
  >;
  /** Marker check period. Default 2 000 ms. */
  checkEveryMs?: number;
  /** Top-up period (see `topUpOnce`). Default 60 000 ms. */
  topUpEveryMs?: number;
  /** What usage and policy changes touched since the last top-up (fed by the ingest and the
   * services): a top-up then reads only those counters, and every counter only on its slow full
   * pass and under a new epoch (see top-up.ts). Absent: every top-up reads every counter. */
  touched?: TouchedCounters;
  /** Period of the full top-up when `touched` is given. Default 600 000 ms. */
  fullTopUpEveryMs?: number;
  now?: () => number;
  /** Told about each workspace rebuilt (operators want to know Redis lost state). */
  onRebuilt?: (workspaceId: string, counters: number) => void;
  /** Told about each counter a top-up raised (spend the counters had missed), with what it held
   * before: per-counter detail — `onTopUp` sums a pass up. */
  onRaised?: CounterTopUpOptions['onRaised'];
  /** Told once per top-up pass: how many counters it read and raised, by how much in all. */
  onTopUp?: (summary: CounterTopUpSummary) => void;
  onError?: (err: unknown) => void;
}

export interface CounterReconciler {
  /** One pass now (single-flight): rebuilds every workspace whose marker is missing. Answers the ids
   * of the workspaces this pass rebuilt. */
  runOnce(): Promise<string[]>;
  /**
   * Counters reconciled up to the books (see top-up.ts): each counter read is raised to its books'
   * figure when it holds less, never lowered. Answers how many counters it raised (`onTopUp` gets
   * the whole summary). Workspaces whose marker is missing are left to the rebuild.
   */
  topUpOnce(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Rate windows went with the counters. Each sub-account with an RPD limit gets today's served
 * requests from the books (UTC day, by start time), and each with an RPM or TPM limit gets the
 * current minute's requests (admitted: served or failed, by start time) and tokens (by finish time,
 * when the settle charges them), so a flush hands out neither a second day's nor a second minute's
 * quota. Raised, never lowered (what was admitted since the loss is already counted); requests
 * still on their way to the books when Redis was lost are not counted.
 */
async function restoreRateWindows(
  opts: Pick<CounterReconcilerOptions, 'prisma' | 'limiter'>,
  workspaceId: string,
  nowMs: number,
): Promise<void> {
  const limited = await opts.prisma.subAccount.findMany({
    where: {
      workspaceId,
      OR: [
        { rateLimitRpd: { not: null } },
        { rateLimitRpm: { not: null } },
        { rateLimitTpm: { not: null } },
      ],
    },
    select: { id: true, rateLimitRpd: true, rateLimitRpm: true, rateLimitTpm: true },
  });
  const daily = limited.filter((s) => s.rateLimitRpd !== null).map((s) => s.id);
  const perMinute = limited
    .filter((s) => s.rateLimitRpm !== null || s.rateLimitTpm !== null)
    .map((s) => s.id);
  const dayStart = new Date(Math.floor(nowMs / 86_400_000) * 86_400_000);
  for (const ids of inChunks(daily)) {
    const counts = await opts.prisma.usageRecord.groupBy({
      by: ['subAccountId'],
      where: { subAccountId: { in: ids }, status: 'ok', startedAt: { gte: dayStart } },
      _count: { _all: true },
    });
    for (const c of counts) {
      if (c.subAccountId === null) continue;
      await opts.limiter.raiseRequestsToday(workspaceId, c.subAccountId, c._count._all, nowMs);
    }
  }
  for (const ids of inChunks(perMinute)) await restoreThisMinute(opts, workspaceId, ids, nowMs);
}

/** Ids per query: PostgreSQL takes at most 32 767 bind values a statement, and a workspace may have
 * more rate-limited sub-accounts than that (the rebuild failed on every pass, and the workspace
 * stayed refused 503, above ~32 700). */
export const IDS_PER_QUERY = 10_000;

function* inChunks(ids: readonly string[]): Generator<string[]> {
  for (let i = 0; i < ids.length; i += IDS_PER_QUERY) yield ids.slice(i, i + IDS_PER_QUERY);
}

async function restoreThisMinute(
  opts: Pick<CounterReconcilerOptions, 'prisma' | 'limiter'>,
  workspaceId: string,
  subAccountIds: string[],
  nowMs: number,
): Promise<void> {
  const minuteStart = new Date(Math.floor(nowMs / 60_000) * 60_000);
  const [requests, tokens] = await Promise.all([
    opts.prisma.usageRecord.groupBy({
      by: ['subAccountId'],
      where: {
        subAccountId: { in: subAccountIds },
        status: { not: 'blocked' },
        startedAt: { gte: minuteStart },
      },
      _count: { _all: true },
    }),
    opts.prisma.usageRecord.groupBy({
      by: ['subAccountId'],
      where: {
        subAccountId: { in: subAccountIds },
        status: { not: 'blocked' },
        finishedAt: { gte: minuteStart },
      },
      _sum: {
        inputTokens: true,
        outputTokens: true,
        cachedInputTokens: true,
        cacheWriteTokens: true,
      },
    }),
  ]);
  const used = new Map<string, { requests: number; tokens: number }>();
  const of = (id: string) => used.get(id) ?? used.set(id, { requests: 0, tokens: 0 }).get(id)!;
  for (const r of requests)
    if (r.subAccountId !== null) of(r.subAccountId).requests = r._count._all;
  for (const t of tokens) {
    if (t.subAccountId === null) continue;
    const s = t._sum;
    of(t.subAccountId).tokens =
      Number(s.inputTokens ?? 0) +
      Number(s.outputTokens ?? 0) +
      Number(s.cachedInputTokens ?? 0) +
      Number(s.cacheWriteTokens ?? 0);
  }
  for (const [id, u] of used) await opts.limiter.raiseThisMinute(workspaceId, id, u, nowMs);
}

/** A reconciler without a timer (tests, one-shot tools): call `runOnce`. */
export function createCounterReconciler(opts: CounterReconcilerOptions): CounterReconciler {
  const now = opts.now ?? Date.now;
  let inFlight: Promise<string[]> | null = null;
  /** Every workspace, with its epoch marker (null: its counters are not in place). */
  async function workspaces(): Promise<WorkspaceEpoch[]> {
    const rows = await opts.prisma.workspace.findMany({ select: { id: true } });
    const epochs = await opts.limiter.epochs(rows.map((w) => w.id));
    return rows.map((w, i) => ({ id: w.id, epoch: epochs[i] ?? null }));
  }
  async function pass(): Promise<string[]> {
    const rebuilt: string[] = [];
    for (const { id, epoch } of await workspaces()) {
      if (epoch !== null) continue;
      try {
        const balances = await booksBalances(opts.prisma, id, now());
        // The rate windows first: rate-limited requests wait (fail closed) until the marker is set,
        // so none is judged against a window that does not hold the books yet. Raising is
        // idempotent (never lowers), so racing control planes may both do it. If it fails, the
        // marker is not set: the next pass tries again.
        await restoreRateWindows(opts, id, now());
        const epoch = `${new Date(now()).toISOString()}/${randomUUID().slice(0, 8)}`;
        if (await opts.limiter.restore(id, balances, epoch)) {
          rebuilt.push(id);
          opts.onRebuilt?.(id, balances.length);
        }
      } catch (err) {
        opts.onError?.(err);
      }
    }
    return rebuilt;
  }
  const topUpPass = createCounterTopUp({ ...opts, now, fullEveryMs: opts.fullTopUpEveryMs });
  async function topUp(): Promise<number> {
    const summary = await topUpPass(await workspaces());
    opts.onTopUp?.(summary);
    return summary.raised;
  }
  let topping: Promise<number> | null = null;
  return {
    runOnce() {
      inFlight ??= pass().finally(() => {
        inFlight = null;
      });
      return inFlight;
    },
    topUpOnce() {
      topping ??= topUp().finally(() => {
        topping = null;
      });
      return topping;
    },
    async stop() {
      await Promise.all([inFlight?.catch(() => {}), topping?.catch(() => {})]);
    },
  };
}

/** Runs a first pass (so counters are rebuilt before traffic is judged), then one every
 * `checkEveryMs`, and a top-up every `topUpEveryMs`. A failing pass (Redis or PostgreSQL down) is
 * reported and retried next tick. */
export async function startCounterReconciler(
  opts: CounterReconcilerOptions,
): Promise<CounterReconciler> {
  const r = createCounterReconciler(opts);
  const onError = opts.onError ?? (() => {});
  await r.runOnce().catch(onError);
  let stopped = false;
  const timer = setInterval(() => {
    if (!stopped) r.runOnce().catch(onError);
  }, opts.checkEveryMs ?? 2_000);
  timer.unref();
  const topUpTimer = setInterval(() => {
    if (!stopped) r.topUpOnce().catch(onError);
  }, opts.topUpEveryMs ?? 60_000);
  topUpTimer.unref();
  return {
    runOnce: r.runOnce,
    topUpOnce: r.topUpOnce,
    async stop() {
      stopped = true;
      clearInterval(timer);
      clearInterval(topUpTimer);
      await r.stop();
    },
  };
}
