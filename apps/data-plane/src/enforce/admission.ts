import type { AdmitResult, Limiter } from '@tollgate/bus';
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
      spend: input.counters.map((c) => c.counter),
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
