import type { CompiledPolicy } from '@tollgate/policy';
import { estimateInputTokens } from '@tollgate/pricing';
import type { Flight } from '../flight.ts';
import type { ModelDeps } from '../handle-model.ts';
import type { ErrorSpec } from '../http/errors.ts';
import type { ParsedRequest } from '../http/parse.ts';
import type { EndpointSpec } from '../providers/types.ts';
import { admit, spendCounters } from './admission.ts';
import { billedWorstCase, type CostModel, modelPrice, perChoiceWithin } from './cost.ts';
import type { Blocked, Judged } from './judge.ts';
import { admitRefusal, limitValue, retryAfterSeconds, tpmTooLarge } from './refusals.ts';

/** The smallest output bound worth dispatching (also OpenAI's minimum for `max_output_tokens`). */
const MIN_OUTPUT_TOKENS = 16;
/** Added to the prompt estimate: providers count framing tokens (reply priming, per-message
 * separators) the text estimate cannot see. A request costing more than it reserved is billed in
 * full unless a cap has no room left for the difference (then it is billed what was left), so an
 * estimate below the real prompt risks under-billing near a cap; above it only reserves more. */
const PROMPT_HEADROOM_TOKENS = 16;

const LIMITER_DOWN: ErrorSpec = {
  status: 503,
  type: 'service_unavailable',
  code: 'limiter_unavailable',
  message: 'Spend limits cannot be checked right now; retry shortly.',
  headers: { 'retry-after': '1' },
};

/**
 * Reserves the worst case on every counter at once, and computes the lowered output bound when
 * only part of it fits (DESIGN request path, step 4).
 */
export async function reserve(
  deps: ModelDeps,
  policy: CompiledPolicy,
  endpoint: EndpointSpec,
  parsed: ParsedRequest,
  j: Judged,
  ids: { requestId: string; startedMs: number; nowMs: number },
): Promise<{ flight: Flight; clampTo: number | null } | Blocked> {
  const { cost, requested, minOut, embedding } = costOf(endpoint, parsed, j);
  const route = { tags: j.tags, provider: j.provider, byok: j.upstream.byok };
  const estimatedTokens = cost.inputTokens + (parsed.maxOutput ?? 0) * cost.choices;
  const tpm = j.chain.subAccount.rateLimitTpm;
  if (tpm !== null && estimatedTokens > tpm) {
    return {
      blocked: tpmTooLarge(estimatedTokens, tpm),
      errorClass: 'tpm',
      rateLimit: { value: tpm, retryAfterSeconds: null },
      ...route,
    };
  }
  const counters = spendCounters(policy, j.chain, j.tags, ids.nowMs);
  const result = await admit({
    limiter: deps.limiter,
    chain: j.chain,
    requestId: ids.requestId,
    nowMs: ids.nowMs,
    counters,
    worstCaseMicros: billedWorstCase(cost, requested),
    minMicros: billedWorstCase(cost, minOut),
    estimatedTokens,
    reservationTtlMs: deps.reservationTtlMs,
    failOpen: deps.limiterDown === 'fail-open',
  });
  if (result === 'unavailable')
    return { blocked: LIMITER_DOWN, errorClass: 'limiter_unavailable', ...route };
  if (result !== 'unlimited' && !result.ok) {
    const blocked = admitRefusal(result, counters, ids.nowMs);
    if (result.kind === 'rate') {
      const rateLimit = {
        value: limitValue(j.chain, result.limit),
        retryAfterSeconds: retryAfterSeconds(result.retryAfterMs),
      };
      return { blocked, errorClass: result.limit, rateLimit, ...route };
    }
    return { blocked, errorClass: blocked.code ?? 'spend_cap_reached', ...route };
  }
  const admitted = result !== 'unlimited';
  if (admitted) deps.metrics?.reservationOpened();
  const flight: Flight = {
    requestId: ids.requestId,
    startedMs: ids.startedMs,
    admittedMs: ids.nowMs,
    endpoint,
    model: parsed.model,
    stream: parsed.stream,
    chain: j.chain,
    tags: j.tags,
    provider: j.provider,
    byok: j.upstream.byok,
    cost,
    counters,
    reservedMicros: admitted ? result.reservedMicros : 0,
    admitted,
    rate: admitted ? result.rate : null,
    done: false,
  };
  if (admitted) deps.holds?.track(flight);
  const clamped = admitted && result.clamped && !embedding;
  return { flight, clampTo: clamped ? perChoiceWithin(cost, flight.reservedMicros) : null };
}

/** Cost model of a judged request and its output bounds: the full one and the smallest worth
 * dispatching. Markup: none on a BYOK key when the workspace waives it, else the plan's markup
 * when the sub-account's plan sets one, else the workspace's. */
export function costOf(endpoint: EndpointSpec, parsed: ParsedRequest, j: Judged) {
  const { workspace, plan } = j.chain;
  const price = modelPrice(j.price);
  const markup = plan?.markupPercent ?? workspace.markupPercent;
  const cost: CostModel = {
    price,
    markupPercent: j.upstream.byok && workspace.byokWaivesMarkup ? 0 : markup,
    inputTokens: estimateInputTokens(promptOf(endpoint, parsed.body)) + PROMPT_HEADROOM_TOKENS,
    choices: parsed.choices,
  };
  const embedding = endpoint.kind === 'embedding';
  const cap = price.maxOutputTokens;
  const requested = embedding ? 0 : Math.min(parsed.maxOutput ?? cap, cap);
  const minOut = embedding ? 0 : Math.min(MIN_OUTPUT_TOKENS, requested);
  return { cost, requested, minOut, embedding };
}

/** The body as the prompt estimate reads it: a Messages `system` counts like `instructions`. */
function promptOf(endpoint: EndpointSpec, body: Record<string, unknown>): unknown {
  return endpoint.kind === 'messages' ? { ...body, instructions: body.system } : body;
}
