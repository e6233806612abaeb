import type { AdmitResult, Counter, Limiter } from '@tollgate/bus';
import { type CompiledPolicy, type KeyChain, periodKey, tagBudgetFor } from '@tollgate/policy';
import type { CounterInfo } from './refusals.ts';

/** The spend counters of one request, in SPEC §6 order: sub-account, each tag budget, workspace. */
export function spendCounters(
  policy: CompiledPolicy,
  chain: KeyChain,
  tags: readonly string[],
  nowMs: number,
): CounterInfo[] {
  const { subAccount: sa, workspace: ws } = chain;
  const out: CounterInfo[] = [
    {
      counter: {
        scope: `sa:${sa.id}`,
        capMicros: sa.spendCapMicros,
        periodKey: periodKey(sa.budgetPeriod, nowMs),
      },
      period: sa.budgetPeriod,
      ...(sa.prepaid ? { prepaid: true } : {}),
    },
  ];
  for (const tag of tags) {
    const budget = tagBudgetFor(policy, ws.id, tag);
    if (budget === undefined) continue;
    out.push({
      counter: {
        scope: `tag:${tag}`,
        capMicros: budget.capMicros,
        periodKey: periodKey(budget.budgetPeriod, nowMs),
      },
      period: budget.budgetPeriod,
    });
  }
  out.push({
    counter: {
      scope: 'ws',
      capMicros: ws.spendCapMicros,
      periodKey: periodKey(ws.budgetPeriod, nowMs),
    },
    period: ws.budgetPeriod,
  });
  return out;
}

/**
 * The counters a request reserves on: every capped one, and the sub-account's always (its reserved
 * spend is shown to operators). An uncapped workspace counter only tracks spend — the settle adds
 * to it — since nothing can be refused by it: skipping its reservation saves a third of the admit
 * script's work in the usual setup. (A workspace cap set while requests are in flight does not see
 * their worst cases, as a tag budget created meanwhile does not.)
 */
export function reservedCounters(counters: readonly CounterInfo[]): Counter[] {
  const out: Counter[] = [];
  for (const { counter } of counters) {
    if (counter.capMicros !== null || counter.scope !== 'ws') out.push(counter);
  }
  return out;
}

/**
 * The spend counters of a request admitted earlier, under a policy that changed while it ran: a
 * counter the policy now caps but the request holds no reservation on — the workspace counter once
 * the workspace has a cap (or another budget period), a tag budget created for one of its tags —
 * is added (an uncapped entry it had for the same counter is replaced). Answers the new list (the
 * entries added are new objects; those kept are the request's own), or null when none is added. Without this, requests admitted before a cap
 * existed would be invisible to it until they settle: others could be admitted against budget
 * they are spending. (The sub-account's counter always holds a reservation.)
 */
export function recapped(
  policy: CompiledPolicy,
  flight: { chain: KeyChain; tags: readonly string[]; counters: CounterInfo[]; admittedMs: number },
): CounterInfo[] | null {
  const ws = policy.workspaces.get(flight.chain.workspace.id);
  if (ws === undefined) return null;
  const chain = { ...flight.chain, workspace: ws };
  const id = (c: Counter) => `${c.scope}\u0000${c.periodKey}`;
  const held = new Set(reservedCounters(flight.counters).map(id));
  let counters: CounterInfo[] | null = null;
  for (const info of spendCounters(policy, chain, flight.tags, flight.admittedMs)) {
    if (info.counter.capMicros === null || held.has(id(info.counter))) continue;
    counters ??= [...flight.counters];
    const same = counters.findIndex((c) => id(c.counter) === id(info.counter));
    if (same === -1) counters.push(info);
    else counters[same] = info;
  }
  return counters;
}

export interface AdmitInput {
  limiter: Limiter;
  chain: KeyChain;
  requestId: string;
  nowMs: number;
  counters: CounterInfo[];
  worstCaseMicros: number;
  minMicros: number;
  estimatedTokens: number;
  reservationTtlMs: number;
  /** Serve limited requests unreserved too while the limiter is unreachable (TOLLGATE_REDIS_DOWN). */
  failOpen?: boolean;
}

/**
 * One atomic check-and-reserve. When the limiter is unreachable (SPEC §10): fail closed unless
 * nothing about this request is limited, in which case it is served unreserved (`unlimited`) —
 * or, with `failOpen`, serve every request unreserved.
 */
export async function admit(input: AdmitInput): Promise<AdmitResult | 'unavailable' | 'unlimited'> {
  const sa = input.chain.subAccount;
  const rate = {
    rpm: sa.rateLimitRpm,
    rpd: sa.rateLimitRpd,
    tpm: sa.rateLimitTpm,
    maxConcurrent: sa.maxConcurrent,
    estimatedTokens: input.estimatedTokens,
  };
  try {
    return await input.limiter.admit({
      workspaceId: input.chain.workspace.id,
      subAccountId: sa.id,
      requestId: input.requestId,
      nowMs: input.nowMs,
      rate,
      spend: reservedCounters(input.counters),
      worstCaseMicros: input.worstCaseMicros,
      minMicros: input.minMicros,
      reservationTtlMs: input.reservationTtlMs,
    });
  } catch {
    if (input.failOpen === true) return 'unlimited';
    const limited =
      input.counters.some((c) => c.counter.capMicros !== null) ||
      rate.rpm !== null ||
      rate.rpd !== null ||
      rate.tpm !== null ||
      rate.maxConcurrent !== null;
    return limited ? 'unavailable' : 'unlimited';
  }
}
