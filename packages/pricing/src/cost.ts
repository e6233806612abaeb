import { assertCount, ceilDiv, toSafeNumber } from './integer.ts';
import type { ModelPrice } from './model-price.ts';

const PER_MTOK = 1_000_000n;

/**
 * Token counts as a provider reports them. `inputTokens` INCLUDES cached and cache-write tokens
 * (OpenAI's convention; adapters for providers that report them apart must add them in).
 */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  /** Input tokens read from the provider's prompt cache. */
  cachedInputTokens?: number;
  /** Input tokens written to the provider's prompt cache (Anthropic). */
  cacheWriteTokens?: number;
}

/**
 * Exact provider cost of a request in pico-USD (micros × 10^6): the sum over the four token
 * classes of tokens × micros-per-MTok, before any rounding. Markup is applied to this exact figure
 * (`billedFromPicos`), so a request is rounded once, not once for the provider cost and again for
 * the markup. Uncached input is clamped at 0 so a provider that reports cache tokens outside
 * `inputTokens` is never credited a negative amount; cached tokens are still charged.
 * Throws RangeError on a token count that is not a non-negative safe integer.
 */
export function costPicos(price: ModelPrice, usage: TokenUsage): bigint {
  const cached = usage.cachedInputTokens ?? 0;
  const cacheWrite = usage.cacheWriteTokens ?? 0;
  assertCount(usage.inputTokens, 'inputTokens');
  assertCount(usage.outputTokens, 'outputTokens');
  assertCount(cached, 'cachedInputTokens');
  assertCount(cacheWrite, 'cacheWriteTokens');
  const uncached = Math.max(0, usage.inputTokens - cached - cacheWrite);
  return (
    BigInt(uncached) * BigInt(price.inputPerMTok) +
    BigInt(cached) * BigInt(price.cachedInputPerMTok) +
    BigInt(cacheWrite) * BigInt(price.cacheWritePerMTok) +
    BigInt(usage.outputTokens) * BigInt(price.outputPerMTok)
  );
}

/**
 * Provider cost of a request in micro-USD: the exact cost (`costPicos`) divided by 1M and rounded
 * up once at the end (rounding each class separately would over-charge by up to 3 micros).
 * Throws RangeError on a token count that is not a non-negative safe integer, or on a cost that
 * would not fit a safe integer.
 */
export function priceUsage(price: ModelPrice, usage: TokenUsage): number {
  return microsOfPicos(costPicos(price, usage));
}

/** An exact cost in pico-USD as whole micro-USD, rounded up (never under-charges). */
export function microsOfPicos(picos: bigint): number {
  return toSafeNumber(ceilDiv(picos, PER_MTOK), 'cost');
}

/** The output tokens a request can produce: its own limit, never above the model's. */
function outputCap(price: ModelPrice, requested: number | undefined): number {
  if (requested === undefined) return price.maxOutputTokens;
  assertCount(requested, 'maxOutputTokens');
  return Math.min(requested, price.maxOutputTokens);
}

/**
 * Worst-case cost of a request before it runs, used for the budget reservation: every input token
 * uncached (a cache hit is never guaranteed) and every allowed output token produced. Without
 * `maxOutputTokens` the model's own maximum is assumed.
 */
export function estimateMaxCost(
  price: ModelPrice,
  req: { inputTokens: number; maxOutputTokens?: number },
): number {
  assertCount(req.inputTokens, 'inputTokens');
  const output = outputCap(price, req.maxOutputTokens);
  const total =
    BigInt(req.inputTokens) * BigInt(price.inputPerMTok) +
    BigInt(output) * BigInt(price.outputPerMTok);
  return toSafeNumber(ceilDiv(total, PER_MTOK), 'cost');
}

/**
 * The largest `max_tokens` whose worst case fits `budgetMicros`, capped at the model's maximum;
 * -1 when even 0 output tokens do not fit (the prompt alone costs too much: answer 402).
 *
 * Exact, not searched: for an integer budget B, ceil(x / 1M) <= B  <=>  x <= B * 1M, so the
 * condition is input*inPrice + n*outPrice <= B*1M, solved for n by one floor division.
 */
export function maxOutputTokensWithin(
  price: ModelPrice,
  inputTokens: number,
  budgetMicros: number,
): number {
  if (!Number.isSafeInteger(budgetMicros)) {
    throw new RangeError(`budgetMicros must be a safe integer, got ${String(budgetMicros)}`);
  }
  return maxOutputTokensWithinPicos(price, inputTokens, BigInt(budgetMicros) * PER_MTOK);
}

/**
 * The largest `max_tokens` whose exact worst case (`costPicos`, all input uncached) is at most
 * `budgetPicos`, capped at the model's maximum; -1 when even 0 output tokens do not fit.
 */
export function maxOutputTokensWithinPicos(
  price: ModelPrice,
  inputTokens: number,
  budgetPicos: bigint,
): number {
  assertCount(inputTokens, 'inputTokens');
  const room = budgetPicos - BigInt(inputTokens) * BigInt(price.inputPerMTok);
  if (room < 0n) return -1;
  if (price.outputPerMTok === 0) return price.maxOutputTokens;
  const fits = room / BigInt(price.outputPerMTok);
  const cap = BigInt(price.maxOutputTokens);
  return Number(fits < cap ? fits : cap);
}
