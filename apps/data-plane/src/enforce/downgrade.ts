import type { IncomingMessage } from 'node:http';
import type { Limiter } from '@tollgate/bus';
import { type CompiledPolicy, decide } from '@tollgate/policy';
import type { ModelDeps } from '../handle-model.ts';
import type { ParsedRequest } from '../http/parse.ts';
import { AZURE_KINDS, serves } from '../providers/registry.ts';
import type { EndpointSpec } from '../providers/types.ts';
import { spendCounters } from './admission.ts';
import { billedWorstCase } from './cost.ts';
import { type Judged, judge } from './judge.ts';
import type { CounterInfo } from './refusals.ts';
import { costOf } from './reserve.ts';

/**
 * Downgrade routing (a plan's or sub-account's `fallbackModel`): whether a worst case no longer
 * fits what is left on the capped counters. A read, not a reservation — the admission that follows
 * stays the one atomic check-and-reserve, so a race between this read and the admission can only
 * make the request clamped or refused as usual, never overspend. A limiter that cannot be read
 * answers "fits" (no downgrade): the admission then fails closed or open as it always does.
 */
export async function remainingBudget(
  limiter: Limiter,
  workspaceId: string,
  counters: readonly CounterInfo[],
  nowMs: number,
): Promise<number | null> {
  const capped = counters.filter((c) => c.counter.capMicros !== null);
  if (capped.length === 0) return null;
  let balances: Awaited<ReturnType<Limiter['spent']>>;
  try {
    balances = await limiter.spent(
      workspaceId,
      capped.map((c) => c.counter),
      nowMs,
    );
  } catch {
    return null;
  }
  let remaining = Number.POSITIVE_INFINITY;
  for (const c of capped) {
    const b = balances.find((x) => x.scope === c.counter.scope);
    const used = (b?.spentMicros ?? 0) + (b?.reservedMicros ?? 0);
    remaining = Math.min(remaining, Math.max(0, (c.counter.capMicros ?? 0) - used));
  }
  return remaining;
}

/**
 * Downgrade routing: when the sub-account (or its plan) names a fallback model and the requested
 * model's worst case no longer fits the remaining budget, the fallback serves instead — provided
 * it is allowed, priced, served on this endpoint, and at least its smallest useful answer fits
 * (it is then admitted like any request, its output bound lowered if only part fits). Otherwise
 * the requested model goes on to the usual clamp or 402. Answers the judged fallback, or null.
 */
export async function downgrade(
  deps: ModelDeps,
  policy: CompiledPolicy,
  endpoint: EndpointSpec,
  req: IncomingMessage,
  parsed: ParsedRequest,
  j: Judged,
  keyHash: string,
  nowMs: number,
): Promise<{ judged: Judged; parsed: ParsedRequest } | null> {
  const fallback = j.chain.subAccount.fallbackModel ?? null;
  if (fallback === null || fallback === parsed.model || endpoint.kind === 'embedding') return null;
  const counters = spendCounters(policy, j.chain, j.tags, nowMs);
  const remaining = await remainingBudget(deps.limiter, j.chain.workspace.id, counters, nowMs);
  if (remaining === null) return null;
  const { cost, requested } = costOf(endpoint, parsed, j);
  if (billedWorstCase(cost, requested) <= remaining) return null;
  const decision = decide(policy, { keyHash, model: fallback, nowMs });
  if (!decision.ok) return null;
  const alt: ParsedRequest = { ...parsed, model: fallback };
  const judged = judge(deps, policy, req, alt, decision);
  if ('blocked' in judged || !serves(judged.provider, endpoint)) return null;
  if (judged.upstream.azure !== null && !AZURE_KINDS.has(endpoint.kind)) return null;
  const f = costOf(endpoint, alt, judged);
  if (billedWorstCase(f.cost, f.minOut) > remaining) return null;
  return { judged, parsed: alt };
}
