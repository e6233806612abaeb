import type { CounterBalanceFromBooks } from '@tollgate/bus';
import type { BudgetPeriod, PrismaClient } from '@tollgate/db';
import { periodKey } from '@tollgate/policy';
import type { UsageEvent } from '@tollgate/usage';
import { booksBalances } from '../ingest/books.ts';
import { DEFAULT_LOW_BALANCE_PERCENT } from '../services/prepaid.ts';
import type { EventDraft, EventScope, SpendUpdate } from './types.ts';

/** Default warning thresholds, as fractions of a cap (SPEC §8: 80 %). */
export const DEFAULT_THRESHOLDS: readonly number[] = [0.8];

const RATE_LIMITS = new Set(['rpm', 'rpd', 'tpm', 'concurrency']);
const MINUTE_MS = 60_000;

const cents = (micros: number) => micros / 10_000;

const SPEND_REFUSALS = new Set(['spend_cap_reached', 'tag_budget_reached', 'balance_exhausted']);

/** What one workspace's part of a batch touched, and which budgets refused requests (402). */
interface Touched {
  subs: Set<string>;
  tags: Set<string>;
  /** Counter scopes that may have refused a request: each set holds the candidates of one 402. */
  refusals: string[][];
}

function touchedByWorkspace(usage: readonly UsageEvent[]): Map<string, Touched> {
  const out = new Map<string, Touched>();
  for (const e of usage) {
    const w = out.get(e.workspaceId) ?? { subs: new Set(), tags: new Set(), refusals: [] };
    out.set(e.workspaceId, w);
    if (e.subAccountId) w.subs.add(e.subAccountId);
    for (const tag of e.tags) w.tags.add(tag);
    if (e.status !== 'blocked' || !e.errorClass || !SPEND_REFUSALS.has(e.errorClass)) continue;
    const named = refusedScope(e);
    if (named !== null) {
      w.refusals.push([named]);
      if (named.startsWith('tag:')) w.tags.add(named.slice(4));
      continue;
    }
    // An event of an older data plane names the kind of budget that refused, not which one: the
    // sub-account or the workspace cap, or one of the request's tag budgets.
    w.refusals.push(
      e.errorClass === 'tag_budget_reached'
        ? e.tags.map((t) => `tag:${t}`)
        : [...(e.subAccountId ? [`sa:${e.subAccountId}`] : []), 'ws'],
    );
  }
  return out;
}

/** The counter scope of the budget a 402 names (`blockedScope`), or null when the event does not
 * name one (older data planes) and the refusal's candidates must be guessed. */
function refusedScope(e: UsageEvent): string | null {
  const named = e.blockedScope;
  if (named === undefined || named === null) return null;
  if (named === 'workspace') return 'ws';
  if (named === 'sub_account') return e.subAccountId ? `sa:${e.subAccountId}` : null;
  return named;
}

interface Budget {
  scope: string;
  kind: EventScope;
  subAccountId: string | null;
  tag: string | null;
  capMicros: number;
  spentMicros: number;
  periodKey: string;
}

function budgetOf(b: CounterBalanceFromBooks, touched: Touched): Budget | null {
  const { scope, capMicros, periodKey: key } = b.counter;
  // A zero cap (a prepaid sub-account without credits) is a budget too: exhausted from the start.
  if (capMicros === null || capMicros < 0) return null;
  const common = { scope, capMicros, spentMicros: b.spentMicros, periodKey: key };
  if (scope.startsWith('sa:')) {
    const id = scope.slice(3);
    if (!touched.subs.has(id)) return null;
    return { ...common, kind: 'sub_account', subAccountId: id, tag: null };
  }
  if (scope.startsWith('tag:')) {
    const tag = scope.slice(4);
    if (!touched.tags.has(tag)) return null;
    return { ...common, kind: 'tag', subAccountId: null, tag };
  }
  return { ...common, kind: 'workspace', subAccountId: null, tag: null };
}

function budgetDraft(
  workspaceId: string,
  b: Budget,
  type: 'warning' | 'exhausted',
  threshold: number,
  refused = false,
): EventDraft {
  // The cap is part of the key: raising (or lowering) a cap re-arms its thresholds for the period.
  const key = `${workspaceId}:${b.scope}:${b.periodKey}:${b.capMicros}`;
  return {
    workspaceId,
    subAccountId: b.subAccountId,
    tag: b.tag,
    scope: b.kind,
    type,
    eventType: `${b.kind}.budget.${type}`,
    dedupeKey: type === 'warning' ? `${key}:warning:${threshold}` : `${key}:exhausted`,
    data: {
      cap_cents: cents(b.capMicros),
      spent_cents: cents(b.spentMicros),
      period: b.periodKey,
      threshold,
      ...(refused ? { refused: true } : {}),
    },
  };
}

/**
 * Threshold events of one workspace: a `warning` per threshold crossed and `exhausted` at 100 %,
 * judged on the books' settled spend. A budget that refused a request (402) is exhausted too, even
 * below 100 %: with `max_tokens` clamped to fit, settled spend approaches the cap without reaching
 * it. The usage event names the budget that refused (`blockedScope`); for an event that does not
 * (older data planes), the candidate closest to its cap is taken as the one that refused.
 */
function thresholdDrafts(
  workspaceId: string,
  balances: CounterBalanceFromBooks[],
  touched: Touched,
  thresholds: readonly number[],
): EventDraft[] {
  const drafts: EventDraft[] = [];
  const budgets = new Map<string, Budget>();
  for (const balance of balances) {
    const b = budgetOf(balance, touched);
    if (!b) continue;
    budgets.set(b.scope, b);
    for (const t of thresholds) {
      if (b.spentMicros < t * b.capMicros) break;
      drafts.push(budgetDraft(workspaceId, b, 'warning', t));
    }
    if (b.spentMicros >= b.capMicros) drafts.push(budgetDraft(workspaceId, b, 'exhausted', 1));
  }
  for (const candidates of touched.refusals) {
    const ratio = (b: Budget) =>
      b.capMicros === 0 ? Number.POSITIVE_INFINITY : b.spentMicros / b.capMicros;
    const refusedBy = candidates
      .map((scope) => budgets.get(scope))
      .filter((b): b is Budget => b !== undefined)
      .sort((a, b) => ratio(b) - ratio(a))[0];
    if (refusedBy && refusedBy.spentMicros < refusedBy.capMicros) {
      // Refused before its thresholds were reached (what is left cannot pay for the smallest
      // answer): the warnings it skipped come first, so a receiver of warnings alone hears of it.
      for (const t of thresholds) {
        if (refusedBy.spentMicros < t * refusedBy.capMicros) {
          drafts.push(budgetDraft(workspaceId, refusedBy, 'warning', t, true));
        }
      }
      drafts.push(budgetDraft(workspaceId, refusedBy, 'exhausted', 1, true));
    }
  }
  return drafts;
}

/**
 * Events owed by a batch of usage (SPEC §8). Every draft carries a dedupe key, so evaluating the
 * same batch twice (an ingest retried after a crash, two replicas) stores each event once:
 * - `warning` per threshold and `exhausted` once per budget period, for every capped sub-account,
 *   tag budget and the workspace touched by the batch (see thresholdDrafts);
 * - `rate_limited` (blocked with rpm/rpd/tpm/concurrency) at most once a minute per sub-account:
 *   keyed by the UTC minute of the blocked request (a replay, or a second refusal in that minute,
 *   stores nothing), and dropped when the sub-account's last `rate_limited` was stored less than
 *   60 s ago or the batch already has one — two refusals a few seconds apart across a minute
 *   boundary announce once (see rateLimitedOncePerMinute);
 * - `request_failed` once per failed (dispatched, then errored) request — not for a client that
 *   hung up (`client_disconnected`).
 * Also answers the live spend of every sub-account in the batch, for `spendUpdates`.
 */
export async function evaluateUsage(
  prisma: PrismaClient,
  usage: readonly UsageEvent[],
  opts: { thresholds?: readonly number[]; nowMs?: number } = {},
): Promise<{ drafts: EventDraft[]; spend: SpendUpdate[] }> {
  const nowMs = opts.nowMs ?? Date.now();
  const thresholds = [...(opts.thresholds ?? DEFAULT_THRESHOLDS)]
    .filter((t) => t > 0 && t < 1)
    .sort((a, b) => a - b);
  const drafts: EventDraft[] = await rateLimitedOncePerMinute(prisma, requestEvents(usage), nowMs);
  const spend: SpendUpdate[] = [];
  for (const [workspaceId, touched] of touchedByWorkspace(usage)) {
    // Only what this delivery touched (and the refusals name): not every counter of the workspace.
    const balances = await booksBalances(prisma, workspaceId, nowMs, {
      kind: 'touched',
      subAccountIds: [...touched.subs],
      tags: [...touched.tags],
    });
    balances.push(...(await unspentRefusers(prisma, workspaceId, balances, touched, nowMs)));
    drafts.push(...thresholdDrafts(workspaceId, balances, touched, thresholds));
    if (touched.subs.size === 0) continue;
    const spent = new Map(balances.map((b) => [b.counter.scope, b.spentMicros]));
    const subs = await prisma.subAccount.findMany({
      where: { workspaceId, id: { in: [...touched.subs] } },
      select: {
        id: true,
        spendCapMicros: true,
        budgetPeriod: true,
        prepaid: true,
        lowBalanceThresholdMicros: true,
      },
    });
    for (const s of subs) {
      const low = lowBalanceDraft(workspaceId, s, spent.get(`sa:${s.id}`) ?? 0);
      if (low) drafts.push(low);
      spend.push({
        workspaceId,
        subAccountId: s.id,
        spentMicros: spent.get(`sa:${s.id}`) ?? 0,
        capMicros: s.spendCapMicros === null ? null : Number(s.spendCapMicros),
        periodKey: periodKey(s.budgetPeriod, nowMs),
        at: new Date(nowMs).toISOString(),
      });
    }
  }
  return { drafts, spend };
}

/**
 * The books hold a counter only once something was spent on it, yet a budget can refuse a request
 * before that — a cap smaller than the request's smallest useful answer. The budgets a 402 named
 * that have no spend yet are added at zero, so their refusal still raises `exhausted`.
 */
async function unspentRefusers(
  prisma: PrismaClient,
  workspaceId: string,
  balances: readonly CounterBalanceFromBooks[],
  touched: Touched,
  nowMs: number,
): Promise<CounterBalanceFromBooks[]> {
  const known = new Set(balances.map((b) => b.counter.scope));
  const named = new Set(
    touched.refusals.filter((c) => c.length === 1 && !known.has(c[0]!)).map((c) => c[0]!),
  );
  const out: CounterBalanceFromBooks[] = [];
  const add = (scope: string, cap: bigint | null, period: BudgetPeriod) => {
    if (cap !== null && cap >= 0n) {
      out.push({
        counter: { scope, capMicros: Number(cap), periodKey: periodKey(period, nowMs) },
        spentMicros: 0,
      });
    }
  };
  for (const scope of named) {
    if (scope === 'ws') {
      const ws = await prisma.workspace.findUnique({ where: { id: workspaceId } });
      if (ws) add(scope, ws.spendCapMicros, ws.budgetPeriod);
    } else if (scope.startsWith('sa:')) {
      const sa = await prisma.subAccount.findFirst({ where: { id: scope.slice(3), workspaceId } });
      if (sa) add(scope, sa.spendCapMicros, sa.budgetPeriod);
    } else if (scope.startsWith('tag:')) {
      const b = await prisma.tagBudget.findFirst({ where: { workspaceId, tag: scope.slice(4) } });
      if (b) add(scope, b.capMicros, b.budgetPeriod);
    }
  }
  return out;
}

/**
 * `sub_account.balance.low`: a prepaid balance (credits − settled draws) below the sub-account's
 * threshold (default 10 % of its credits). Once per crossing: the key holds the credits total, so a
 * top-up re-arms it.
 */
function lowBalanceDraft(
  workspaceId: string,
  s: {
    id: string;
    spendCapMicros: bigint | null;
    prepaid: boolean;
    lowBalanceThresholdMicros: bigint | null;
  },
  spentMicros: number,
): EventDraft | null {
  if (!s.prepaid || s.spendCapMicros === null || s.spendCapMicros <= 0n) return null;
  const credits = s.spendCapMicros;
  const threshold = s.lowBalanceThresholdMicros ?? (credits * DEFAULT_LOW_BALANCE_PERCENT) / 100n;
  const balance = credits - BigInt(spentMicros);
  if (balance >= threshold) return null;
  return {
    workspaceId,
    subAccountId: s.id,
    tag: null,
    scope: 'sub_account',
    type: 'balance_low',
    eventType: 'sub_account.balance.low',
    dedupeKey: `${workspaceId}:sa:${s.id}:balance_low:${credits}`,
    data: {
      balance_cents: cents(Number(balance)),
      credits_cents: cents(Number(credits)),
      spent_cents: cents(spentMicros),
      threshold_cents: cents(Number(threshold)),
    },
  };
}

/**
 * SPEC §8 "at most once per minute" for `rate_limited`, on top of the calendar-minute dedupe key:
 * keeps the first `rate_limited` draft of each sub-account in the batch, and drops it when a
 * `rate_limited` event of that sub-account was stored less than 60 s before `nowMs` (the
 * pipeline's clock, which also stamps `createdAt`). Other drafts pass untouched.
 */
async function rateLimitedOncePerMinute(
  prisma: PrismaClient,
  drafts: EventDraft[],
  nowMs: number,
): Promise<EventDraft[]> {
  const subKey = (workspaceId: string, subAccountId: string) => `${workspaceId}:${subAccountId}`;
  const first = new Map<string, EventDraft>();
  for (const d of drafts) {
    if (d.type !== 'rate_limited' || !d.subAccountId) continue;
    const key = subKey(d.workspaceId, d.subAccountId);
    if (!first.has(key)) first.set(key, d);
  }
  if (first.size === 0) return drafts;
  const recent = await prisma.budgetEvent.findMany({
    where: {
      type: 'rate_limited',
      OR: [...first.values()].map((d) => ({
        workspaceId: d.workspaceId,
        subAccountId: d.subAccountId,
      })),
      createdAt: { gt: new Date(nowMs - MINUTE_MS) },
    },
    select: { workspaceId: true, subAccountId: true },
  });
  const silenced = new Set(recent.map((e) => subKey(e.workspaceId, e.subAccountId ?? '')));
  return drafts.filter((d) => {
    if (d.type !== 'rate_limited' || !d.subAccountId) return true;
    const key = subKey(d.workspaceId, d.subAccountId);
    return first.get(key) === d && !silenced.has(key);
  });
}

/** `rate_limited` and `request_failed`, straight from the usage records. */
function requestEvents(usage: readonly UsageEvent[]): EventDraft[] {
  const drafts: EventDraft[] = [];
  for (const e of usage) {
    if (!e.subAccountId) continue;
    const base = {
      workspaceId: e.workspaceId,
      subAccountId: e.subAccountId,
      tag: null,
      scope: 'sub_account' as const,
    };
    const request = {
      request_id: e.requestId,
      model: e.model,
      tags: e.tags,
      error_class: e.errorClass,
      http_status: e.httpStatus,
    };
    if (e.status === 'blocked' && e.errorClass && RATE_LIMITS.has(e.errorClass)) {
      const minute = Math.floor(Date.parse(e.startedAt) / MINUTE_MS);
      drafts.push({
        ...base,
        type: 'rate_limited',
        eventType: 'sub_account.rate_limited',
        dedupeKey: `${e.workspaceId}:sa:${e.subAccountId}:rate_limited:${minute}`,
        data: {
          ...request,
          limit: e.errorClass,
          // From data planes that report it (older ones do not): the limit's value, and the
          // Retry-After the request was answered (null: the request alone is over the limit).
          ...(e.rateLimit
            ? {
                limit_value: e.rateLimit.value,
                retry_after_seconds: e.rateLimit.retryAfterSeconds,
              }
            : {}),
        },
      });
    } else if (e.status === 'error' && e.errorClass !== 'client_disconnected') {
      // A client that hung up is not a failed request of the provider's or ours.
      drafts.push({
        ...base,
        type: 'request_failed',
        eventType: 'sub_account.request.failed',
        dedupeKey: `${e.workspaceId}:request_failed:${e.requestId}`,
        // The provider's own status when it answered one (a 502's `provider_status`).
        data: { ...request, provider_status: e.upstreamStatus ?? null },
      });
    }
  }
  return drafts;
}
