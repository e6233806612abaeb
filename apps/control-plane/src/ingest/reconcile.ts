import { randomUUID } from 'node:crypto';
import type { CounterBalanceFromBooks, Limiter } from '@tollgate/bus';
import { type BudgetPeriod, Prisma, type PrismaClient } from '@tollgate/db';
import { periodKey, periodWindow } from '@tollgate/policy';

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
 */
export interface CounterReconcilerOptions {
  prisma: PrismaClient;
  limiter: Pick<Limiter, 'epochs' | 'restore' | 'raiseRequestsToday'>;
  /** Marker check period. Default 2 000 ms. */
  checkEveryMs?: number;
  now?: () => number;
  /** Told about each workspace rebuilt (operators want to know Redis lost state). */
  onRebuilt?: (workspaceId: string, counters: number) => void;
  onError?: (err: unknown) => void;
}

export interface CounterReconciler {
  /** One pass now (single-flight): rebuilds every workspace whose marker is missing. Answers the ids
   * of the workspaces this pass rebuilt. */
  runOnce(): Promise<string[]>;
  stop(): Promise<void>;
}

const PERIODS: BudgetPeriod[] = ['daily', 'weekly', 'monthly', 'total'];

/** Start of each budget period holding `nowMs`, as dates (periods start at UTC midnight, so the
 * daily rollups cover them exactly). */
function periodStarts(nowMs: number): Record<BudgetPeriod, Date> {
  return Object.fromEntries(
    PERIODS.map((p) => [p, new Date(periodWindow(p, nowMs).start)]),
  ) as Record<BudgetPeriod, Date>;
}

const startFor = (col: Prisma.Sql, s: Record<BudgetPeriod, Date>) => Prisma.sql`CASE ${col}::text
  WHEN 'daily' THEN ${s.daily}::date WHEN 'weekly' THEN ${s.weekly}::date
  WHEN 'monthly' THEN ${s.monthly}::date ELSE ${s.total}::date END`;

const toNumber = (v: bigint | null): number => Number(v ?? 0n);

/** What reads the books: the client, or a transaction (to see a change before it commits). */
export type BooksReader = Pick<PrismaClient, '$queryRaw' | 'workspace' | 'usageRollupDaily'>;

/** One entity's counters only: a sub-account's, a tag budget's (by budget id), the workspace's. */
export type BooksScope =
  | { kind: 'sub_account'; id: string }
  | { kind: 'tag_budget'; id: string }
  | { kind: 'plan'; id: string }
  | { kind: 'workspace' };

/** Settled (billed) spend of the current period per counter of one workspace (or of one entity of
 * it, with `only`), from the rollups. Counters with nothing spent are left out (an absent counter
 * reads as zero). */
export async function booksBalances(
  prisma: BooksReader,
  workspaceId: string,
  nowMs: number,
  only?: BooksScope,
): Promise<CounterBalanceFromBooks[]> {
  const ws = await prisma.workspace.findUnique({ where: { id: workspaceId } });
  if (!ws) return [];
  const starts = periodStarts(nowMs);
  const out: CounterBalanceFromBooks[] = [];
  const wanted = (kind: BooksScope['kind']) => only === undefined || only.kind === kind;
  const subs = !(wanted('sub_account') || only?.kind === 'plan')
    ? []
    : await prisma.$queryRaw<
        { id: string; period: BudgetPeriod; cap: bigint | null; spent: bigint }[]
      >`
    SELECT sa.id, sa."budgetPeriod"::text AS period, sa."spendCapMicros" AS cap,
      sum(r."billedCostMicros")::bigint AS spent
    FROM "UsageRollupDaily" r JOIN "SubAccount" sa ON sa.id = r."subAccountId"
    WHERE r."workspaceId" = ${workspaceId} AND sa."workspaceId" = ${workspaceId}
      AND r.day >= ${startFor(Prisma.sql`sa."budgetPeriod"`, starts)}
      ${only?.kind === 'sub_account' ? Prisma.sql`AND sa.id = ${only.id}` : Prisma.empty}
      ${only?.kind === 'plan' ? Prisma.sql`AND sa."planId" = ${only.id}` : Prisma.empty}
    GROUP BY sa.id, sa."budgetPeriod", sa."spendCapMicros"`;
  for (const s of subs) {
    if (toNumber(s.spent) <= 0) continue;
    out.push({
      counter: {
        scope: `sa:${s.id}`,
        capMicros: s.cap === null ? null : Number(s.cap),
        periodKey: periodKey(s.period, nowMs),
      },
      spentMicros: toNumber(s.spent),
    });
  }
  const tags = !wanted('tag_budget')
    ? []
    : await prisma.$queryRaw<{ tag: string; period: BudgetPeriod; cap: bigint; spent: bigint }[]>`
    SELECT b.tag, b."budgetPeriod"::text AS period, b."capMicros" AS cap,
      sum(r."billedCostMicros")::bigint AS spent
    FROM "TagBudget" b JOIN "TagRollupDaily" r ON r."workspaceId" = b."workspaceId" AND r.tag = b.tag
    WHERE b."workspaceId" = ${workspaceId}
      AND r.day >= ${startFor(Prisma.sql`b."budgetPeriod"`, starts)}
      ${only?.kind === 'tag_budget' ? Prisma.sql`AND b.id = ${only.id}` : Prisma.empty}
    GROUP BY b.tag, b."budgetPeriod", b."capMicros"`;
  for (const t of tags) {
    if (toNumber(t.spent) <= 0) continue;
    out.push({
      counter: {
        scope: `tag:${t.tag}`,
        capMicros: Number(t.cap),
        periodKey: periodKey(t.period, nowMs),
      },
      spentMicros: toNumber(t.spent),
    });
  }
  if (!wanted('workspace')) return out;
  const total = await prisma.usageRollupDaily.aggregate({
    where: { workspaceId, day: { gte: starts[ws.budgetPeriod] } },
    _sum: { billedCostMicros: true },
  });
  const wsSpent = toNumber(total._sum.billedCostMicros);
  if (wsSpent > 0) {
    out.push({
      counter: {
        scope: 'ws',
        capMicros: ws.spendCapMicros === null ? null : Number(ws.spendCapMicros),
        periodKey: periodKey(ws.budgetPeriod, nowMs),
      },
      spentMicros: wsSpent,
    });
  }
  return out;
}

/** The policy change a catch-up is for (a subset of services' PolicyChange). */
export interface CounterChange {
  workspaceId: string;
  kind: string;
  id: string;
}

/**
 * Catch-up of the spend counters a policy change puts in force mid-period (SPEC §6, the cap
 * guarantee). The data plane counts `tag:<name>` only while the tag has a budget, and keys every
 * counter by the period of its budget; so a tag budget created (or re-created) mid-period, or a
 * budget period changed (monthly → daily), meets a counter that is absent or stale although the
 * books hold spend of that period — the budget could be overspent by as much.
 *
 * Called by `mutate` inside the change's transaction, before it commits: the books are read through
 * the transaction (which sees the new budget or period) and every counter of the changed entity is
 * raised to its books' figure (`limiter.raise`: never lowered, so a live counter ahead of the books
 * is left alone). Before commit rather than after: nothing can publish the change (a delta, a full
 * snapshot another task builds concurrently, another control plane's snapshot) before the counters
 * hold the books. A transaction that then fails leaves a counter raised to a figure the period
 * really spent — harmless.
 *
 * Never throws: a failure (Redis unreachable) is reported and the change goes on. Refusing the
 * change instead would block emergency edits (suspending a sub-account) during a Redis incident,
 * while the data planes fail closed then anyway; a lost Redis is rebuilt from the books by the
 * reconciler, which covers these counters too. Workspaces whose epoch marker is missing are skipped
 * for the same reason (and because `restore` adds the books to counters created after the loss).
 *
 * Left open: spend of requests admitted before the data plane learns the change (or settled but
 * not ingested yet) is in neither figure; it is bounded by the requests in flight at that moment.
 */
export interface CounterCatchUpOptions {
  limiter: Pick<Limiter, 'epochs' | 'raise'>;
  now?: () => number;
  /** Told about each counter raised. */
  onRaised?: (workspaceId: string, scope: string, periodKey: string, spentMicros: number) => void;
  onError?: (err: unknown) => void;
}

export type CounterCatchUp = (db: BooksReader, change: CounterChange) => Promise<void>;

const CATCH_UP_KINDS: Record<string, (id: string) => BooksScope> = {
  workspace: () => ({ kind: 'workspace' }),
  sub_account: (id) => ({ kind: 'sub_account', id }),
  tag_budget: (id) => ({ kind: 'tag_budget', id }),
  // A plan change may change the period of every sub-account on it (read after the update).
  plan: (id) => ({ kind: 'plan', id }),
};

export function createCounterCatchUp(opts: CounterCatchUpOptions): CounterCatchUp {
  const now = opts.now ?? Date.now;
  return async (db, change) => {
    const scopeOf = CATCH_UP_KINDS[change.kind];
    if (!scopeOf) return;
    try {
      const [epoch] = await opts.limiter.epochs([change.workspaceId]);
      if (epoch === null || epoch === undefined) return;
      const nowMs = now();
      const balances = await booksBalances(db, change.workspaceId, nowMs, scopeOf(change.id));
      for (const { counter, spentMicros } of balances) {
        if (await opts.limiter.raise(change.workspaceId, counter, spentMicros)) {
          opts.onRaised?.(change.workspaceId, counter.scope, counter.periodKey, spentMicros);
        }
      }
    } catch (err) {
      opts.onError?.(err);
    }
  };
}

/**
 * Requests-per-day windows went with the counters: each sub-account with an RPD limit gets today's
 * served requests from the books (UTC day, by start time), so a flush does not hand out a second
 * day's quota. Raised, never lowered (what was admitted since the loss is already counted); requests
 * still on their way to the books when Redis was lost are not counted.
 */
async function restoreRequestsToday(
  opts: Pick<CounterReconcilerOptions, 'prisma' | 'limiter'>,
  workspaceId: string,
  nowMs: number,
): Promise<void> {
  const limited = await opts.prisma.subAccount.findMany({
    where: { workspaceId, rateLimitRpd: { not: null } },
    select: { id: true },
  });
  if (limited.length === 0) return;
  const dayStart = new Date(Math.floor(nowMs / 86_400_000) * 86_400_000);
  const counts = await opts.prisma.usageRecord.groupBy({
    by: ['subAccountId'],
    where: {
      subAccountId: { in: limited.map((s) => s.id) },
      status: 'ok',
      startedAt: { gte: dayStart },
    },
    _count: { _all: true },
  });
  for (const c of counts) {
    if (c.subAccountId === null) continue;
    await opts.limiter.raiseRequestsToday(workspaceId, c.subAccountId, c._count._all, nowMs);
  }
}

/** A reconciler without a timer (tests, one-shot tools): call `runOnce`. */
export function createCounterReconciler(opts: CounterReconcilerOptions): CounterReconciler {
  const now = opts.now ?? Date.now;
  let inFlight: Promise<string[]> | null = null;
  async function pass(): Promise<string[]> {
    const workspaces = await opts.prisma.workspace.findMany({ select: { id: true } });
    const ids = workspaces.map((w) => w.id);
    const epochs = await opts.limiter.epochs(ids);
    const rebuilt: string[] = [];
    for (const [i, id] of ids.entries()) {
      if (epochs[i] !== null) continue;
      try {
        const balances = await booksBalances(opts.prisma, id, now());
        const epoch = `${new Date(now()).toISOString()}/${randomUUID().slice(0, 8)}`;
        if (await opts.limiter.restore(id, balances, epoch)) {
          await restoreRequestsToday(opts, id, now()).catch((err) => opts.onError?.(err));
          rebuilt.push(id);
          opts.onRebuilt?.(id, balances.length);
        }
      } catch (err) {
        opts.onError?.(err);
      }
    }
    return rebuilt;
  }
  return {
    runOnce() {
      inFlight ??= pass().finally(() => {
        inFlight = null;
      });
      return inFlight;
    },
    async stop() {
      await inFlight?.catch(() => {});
    },
  };
}

/** Runs a first pass (so counters are rebuilt before traffic is judged), then one every
 * `checkEveryMs`. A failing pass (Redis or PostgreSQL down) is reported and retried next tick. */
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
  return {
    runOnce: r.runOnce,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await r.stop();
    },
  };
}
