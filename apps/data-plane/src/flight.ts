import type { Limiter, RateSnapshot } from '@tollgate/bus';
import type { KeyChain } from '@tollgate/policy';
import type { TokenUsage } from '@tollgate/pricing';
import type { BlockedScope, UsageEvent } from '@tollgate/usage';
import { type CostModel, settledCost } from './enforce/cost.ts';
import type { Holds } from './enforce/holds.ts';
import type { CounterInfo } from './enforce/refusals.ts';
import type { Logger } from './log.ts';
import type { DataPlaneMetrics } from './metrics.ts';
import type { EndpointSpec } from './providers/types.ts';
import { recordText } from './text.ts';
import type { UsageEmitter } from './usage/emitter.ts';

/**
 * One request in flight, from admission to its single settlement. Whatever ends it — the upstream
 * finishing, failing or being cut, the cap guard, the client leaving — calls `finish` once; later
 * calls are ignored, so a reservation is settled and a usage event emitted exactly once.
 */
export interface Flight {
  requestId: string;
  startedMs: number;
  /** The clock at admission: the instant its counters' periods were taken at. */
  admittedMs: number;
  endpoint: EndpointSpec;
  /** The model that serves (the fallback when downgrade routing replaced the requested one). */
  model: string;
  /** Set when downgrade routing replaced the model: what the client asked for. */
  requestedModel?: string;
  stream: boolean;
  chain: KeyChain;
  tags: string[];
  provider: string;
  byok: boolean;
  cost: CostModel;
  /** Its spend counters; a counter the policy capped while it ran is added (see `recapped`). */
  counters: CounterInfo[];
  /** Billed micro-USD reserved at admission (0 when not admitted). */
  reservedMicros: number;
  /** Whether the limiter holds a reservation (and a concurrency slot). False: served unreserved
   * because the limiter was unreachable (it is settled all the same, see `finish`). */
  admitted: boolean;
  rate: RateSnapshot | null;
  done: boolean;
  /** Times the upstream call was retried within this reservation (429/5xx, connection lost). */
  retries?: number;
  /** Earlier attempts that lost their connection after the whole request was written: the
   * provider had their prompts too (a retry cannot know whether it billed them). */
  lostPrompts?: number;
}

export interface Outcome {
  status: UsageEvent['status'];
  errorClass: string | null;
  httpStatus: number;
  /** What the provider reported; null = none (estimated from `text` when anything was served). */
  usage: TokenUsage | null;
  /** Usage the provider reported before the answer ended (Anthropic's message_start: the prompt
   * counted, the output a placeholder), for an answer that ended without `usage`. */
  partialUsage?: TokenUsage | null;
  /** Whether the upstream produced an answer that may be billed (2xx). */
  served: boolean;
  /** No answer came back, but the upstream had the request (the client left while it ran, or it
   * timed out): the provider may bill its prompt, so the prompt is billed, estimated. */
  promptSent?: boolean;
  /** Output tokens estimated from what was generated (used only when `usage` is null). */
  outputEstimate: number;
  ttftMs: number | null;
  servedModel: string | null;
  /** The provider's HTTP status when it refused or failed the request (not when it served it). */
  upstreamStatus?: number;
}

export interface SettleDeps {
  limiter: Limiter;
  /** How long a settle that fails (the limiter unreachable) is retried before the spend is given up
   * on the counters (the usage record keeps it). Default 60 000 ms. */
  settleRetryMs?: number;
  /** True once the plane is stopping: retries end within `STOPPING_RETRY_MS`. */
  stopping?: () => boolean;
  /** Settles being retried now (shared by the plane's requests), and the most that may be: beyond
   * it a failing settle is given up on at once. Each retried settle holds its request (and its usage
   * record) until it ends; under load through a long outage that would be every request served. */
  retrying?: { count: number; max: number };
  /** The hold of requests in flight on the counters, kept until they settle. */
  holds?: Holds;
  emitter: UsageEmitter;
  log: Logger;
  now: () => number;
  metrics?: DataPlaneMetrics;
}

const SETTLE_RETRY_FIRST_MS = 50;
const SETTLE_RETRY_MAX_MS = 5_000;
const STOPPING_RETRY_MS = 5_000;

/**
 * The settle, retried while the limiter cannot be reached (a Redis blip, a failover). Given up on,
 * the spend would be missing from the counters: once the reservation expires, others could be
 * admitted against budget this request spent and the books would pass the cap. Safe to repeat: a
 * settle is idempotent by request id (one whose reply was lost changes nothing the second time).
 * Timed on the real clock (`deps.now` may be a test's).
 */
async function settleRetrying(
  deps: SettleDeps,
  request: Parameters<Limiter['settle']>[0],
): ReturnType<Limiter['settle']> {
  const started = performance.now();
  const retrying = deps.retrying;
  let counted = false;
  let delay = SETTLE_RETRY_FIRST_MS;
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        return await deps.limiter.settle(request);
      } catch (err) {
        // A request the limiter refuses as invalid would be refused again: not retried.
        if (err instanceof RangeError) throw err;
        const horizon = deps.stopping?.()
          ? Math.min(deps.settleRetryMs ?? 60_000, STOPPING_RETRY_MS)
          : (deps.settleRetryMs ?? 60_000);
        if (performance.now() - started + delay > horizon) throw err;
        if (attempt === 1) {
          if (retrying !== undefined) {
            if (retrying.count >= retrying.max) throw err;
            retrying.count += 1;
            counted = true;
          }
          deps.log.warn('settle failed: retrying', {
            requestId: request.requestId,
            err: String(err),
          });
        }
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, SETTLE_RETRY_MAX_MS);
      }
    }
  } finally {
    if (counted && retrying !== undefined) retrying.count -= 1;
  }
}

/** Tokens of an answer that ended without its usage — never zero when something was served
 * (SPEC §6): the prompt as the provider reported it so far (Anthropic's message_start, cache reads
 * and writes included), else as estimated at admission; the output at least what was generated. */
export function unreportedUsage(
  flight: Pick<Flight, 'cost'>,
  partial: TokenUsage | null,
  outputEstimate: number,
): TokenUsage {
  if (partial === null)
    return { inputTokens: estimatedPromptTokens(flight), outputTokens: outputEstimate };
  return { ...partial, outputTokens: Math.max(partial.outputTokens, outputEstimate) };
}

/** The prompt as estimated at admission: what a request without reported usage is billed for it. */
export function estimatedPromptTokens(flight: Pick<Flight, 'cost'>): number {
  return Math.max(1, flight.cost.inputTokens);
}

export async function finish(deps: SettleDeps, flight: Flight, o: Outcome): Promise<void> {
  if (flight.done) return;
  flight.done = true;
  deps.holds?.untrack(flight);
  const nowMs = deps.now();
  const m = deps.metrics;
  if (m !== undefined) {
    if (flight.admitted) m.reservationClosed();
    if (o.ttftMs !== null) m.ttft.observe(o.ttftMs / 1000);
    if (o.status === 'error' && o.errorClass !== null) m.upstreamError(o.errorClass);
    if ((flight.retries ?? 0) > 0) m.retries.inc(flight.retries);
  }
  let usage: TokenUsage = { inputTokens: 0, outputTokens: 0 };
  let estimated = false;
  if (o.usage !== null && o.status === 'error' && o.outputEstimate > o.usage.outputTokens) {
    // A stream that failed after its provider reported usage so far (Anthropic's message_start):
    // its prompt as reported, its output at least what was streamed.
    usage = { ...o.usage, outputTokens: o.outputEstimate };
    estimated = true;
  } else if (o.usage !== null) usage = o.usage;
  else if (o.served || o.promptSent === true) {
    usage = unreportedUsage(flight, o.partialUsage ?? null, o.outputEstimate);
    estimated = true;
  }
  if ((flight.lostPrompts ?? 0) > 0) {
    // Each earlier attempt's prompt, as estimated: the books follow what the provider may bill.
    usage = {
      ...usage,
      inputTokens: usage.inputTokens + (flight.lostPrompts ?? 0) * estimatedPromptTokens(flight),
    };
    estimated = true;
  }
  let providerMicros = 0;
  let billedMicros = 0;
  let cappedAtSettle = false;
  try {
    // Billed in full: the reservation is an estimate (the prompt is estimated from its text; images
    // or a `previous_response_id` conversation can make it larger). The cap guarantee is the
    // settle's: it charges a capped counter at most what is left under its cap (see below).
    ({ providerMicros, billedMicros } = settledCost(
      flight.cost.price,
      usage,
      flight.cost.markupPercent,
    ));
  } catch (err) {
    deps.log.error('pricing failed', { requestId: flight.requestId, err: String(err) });
  }
  // A request served unreserved (the limiter was unreachable at admission; TOLLGATE_REDIS_DOWN)
  // settles too, once the limiter answers: its spend reaches the counters (at most what is left
  // under each cap, and it is billed that), so a blip does not let the period pass the cap later;
  // and an admission that did run in Redis after its reply was lost (a timeout) is released now
  // rather than holding budget and a concurrency slot until its TTL.
  try {
    const settled = await settleRetrying(deps, {
      workspaceId: flight.chain.workspace.id,
      subAccountId: flight.chain.subAccount.id,
      requestId: flight.requestId,
      spend: flight.counters.map((c) => c.counter),
      actualMicros: billedMicros,
      actualTokens: usage.inputTokens + usage.outputTokens,
      nowMs,
    });
    // The limiter charges less only when a capped budget cannot take the whole cost: it cost more
    // than its reservation (a prompt larger than estimated), or the reservation is gone (it
    // outlived its TTL, or Redis lost it), and others hold the rest of the budget. The record
    // bills what was charged, so the books never pass the cap either.
    if (settled.settled && settled.chargedMicros < billedMicros) {
      deps.log.warn('cost above what was left under the cap at settle: billed what was left', {
        requestId: flight.requestId,
        costMicros: billedMicros,
        chargedMicros: settled.chargedMicros,
      });
      m?.settleBounded.inc();
      billedMicros = settled.chargedMicros;
      cappedAtSettle = true;
    }
  } catch (err) {
    // Given up (see settleRetrying): the reservation expires by itself; the usage record below
    // still carries the money.
    deps.log.error('settle failed', { requestId: flight.requestId, err: String(err) });
  }
  const cached = usage.cachedInputTokens ?? 0;
  const cacheWrite = usage.cacheWriteTokens ?? 0;
  deps.emitter.add({
    v: 1,
    requestId: flight.requestId,
    attempt: 0,
    workspaceId: flight.chain.workspace.id,
    subAccountId: flight.chain.subAccount.id,
    keyId: flight.chain.key.id,
    tags: flight.tags,
    model: flight.model,
    ...(flight.requestedModel !== undefined ? { requestedModel: flight.requestedModel } : {}),
    // The provider's own name for it: whatever it sent, the record must be storable.
    servedModel: o.servedModel === null ? null : recordText(o.servedModel, 256),
    provider: flight.provider,
    byok: flight.byok,
    inputTokens: Math.max(0, usage.inputTokens - cached - cacheWrite),
    outputTokens: usage.outputTokens,
    cachedInputTokens: cached,
    cacheWriteTokens: cacheWrite,
    providerCostMicros: providerMicros,
    billedCostMicros: billedMicros,
    ...(cappedAtSettle ? { cappedAtSettle } : {}),
    estimated,
    status: o.status,
    errorClass: o.errorClass,
    blockedScope: null,
    httpStatus: o.httpStatus,
    ...(o.upstreamStatus !== undefined ? { upstreamStatus: o.upstreamStatus } : {}),
    latencyMs: Math.max(0, nowMs - flight.startedMs),
    ttftMs: o.ttftMs,
    retries: flight.retries ?? 0,
    stream: flight.stream,
    startedAt: new Date(flight.startedMs).toISOString(),
    finishedAt: new Date(nowMs).toISOString(),
    reservationMicros: flight.reservedMicros,
  });
}

/** A request refused before dispatch, attributed to the key's chain when it is known. */
export function blockedEvent(
  requestId: string,
  startedMs: number,
  nowMs: number,
  chain: KeyChain,
  fields: {
    model: string;
    tags: string[];
    stream: boolean;
    errorClass: string;
    httpStatus: number;
    provider: string | null;
    /** Whether it would have gone out on a provider key of the workspace (default false). */
    byok?: boolean;
    /** The budget that refused a 402 (see `blockedScopeOf`); absent or null otherwise. */
    blockedScope?: BlockedScope | null;
    /** The rate limit that refused it, for the `rate_limited` event. */
    rateLimit?: UsageEvent['rateLimit'];
  },
): UsageEvent {
  return {
    v: 1,
    requestId,
    attempt: 0,
    workspaceId: chain.workspace.id,
    subAccountId: chain.subAccount.id,
    keyId: chain.key.id,
    tags: fields.tags,
    model: fields.model.slice(0, 256),
    servedModel: null,
    provider: fields.provider,
    byok: fields.byok ?? false,
    inputTokens: 0,
    outputTokens: 0,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    providerCostMicros: 0,
    billedCostMicros: 0,
    estimated: false,
    status: 'blocked',
    errorClass: fields.errorClass,
    blockedScope: fields.httpStatus === 402 ? (fields.blockedScope ?? null) : null,
    httpStatus: fields.httpStatus,
    ...(fields.rateLimit ? { rateLimit: fields.rateLimit } : {}),
    latencyMs: Math.max(0, nowMs - startedMs),
    ttftMs: null,
    retries: 0,
    stream: fields.stream,
    startedAt: new Date(startedMs).toISOString(),
    finishedAt: new Date(nowMs).toISOString(),
    reservationMicros: 0,
  };
}
