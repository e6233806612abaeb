import type { ResolvedPrice } from '@tollgate/policy';
import {
  billedFromPicos,
  CATALOGUE,
  costPicos,
  type ModelPrice,
  maxOutputTokensWithinPicos,
  microsOfPicos,
  picosWithin,
  type TokenUsage,
} from '@tollgate/pricing';

/**
 * Cost arithmetic of one request, in billed micro-USD (provider cost plus the workspace markup):
 * spend caps are on what the sub-account is billed, so reservations, clamps and settlements are
 * all in billed terms.
 */

const catalogue = new Map(CATALOGUE.map((p) => [p.model, p]));
const DEFAULT_MAX_OUTPUT = 16_384;
const DEFAULT_CONTEXT = 128_000;

/** The full price of a resolved model: its rates (override or catalogue) with the catalogue's
 * limits, or defaults for a model only an override knows. */
export function modelPrice(resolved: ResolvedPrice): ModelPrice {
  const base = catalogue.get(resolved.model);
  return {
    model: resolved.model,
    provider: resolved.model.slice(0, resolved.model.indexOf('/')),
    inputPerMTok: resolved.inputPerMTok,
    outputPerMTok: resolved.outputPerMTok,
    cachedInputPerMTok: resolved.cachedInputPerMTok,
    cacheWritePerMTok: resolved.cacheWritePerMTok,
    contextWindow: base?.contextWindow ?? DEFAULT_CONTEXT,
    maxOutputTokens: base?.maxOutputTokens ?? DEFAULT_MAX_OUTPUT,
    kind: base?.kind ?? 'chat',
    source: resolved.source,
    asOf: base?.asOf ?? '',
  };
}

export interface CostModel {
  price: ModelPrice;
  /** Markup in percent actually applied (0 when BYOK waives it). */
  markupPercent: number;
  inputTokens: number;
  /** Output produced per bound (`n`). */
  choices: number;
}

/** Billed worst case when each choice may produce `perChoice` output tokens. */
export function billedWorstCase(m: CostModel, perChoice: number): number {
  const exact = costPicos(m.price, {
    inputTokens: m.inputTokens,
    outputTokens: perChoice * m.choices,
  });
  return billedFromPicos(exact, m.markupPercent);
}

/**
 * The largest per-choice output bound whose billed worst case fits `billedBudget`, or 0 when even
 * the prompt does not fit. Exact: the budget is turned into the largest exact provider cost whose
 * marked-up, rounded cost fits it (`picosWithin`), and the output tokens solved within that.
 */
export function perChoiceWithin(m: CostModel, billedBudget: number): number {
  const total = maxOutputTokensWithinPicos(
    m.price,
    m.inputTokens,
    picosWithin(billedBudget, m.markupPercent),
  );
  if (total < 0) return 0;
  return Math.floor(total / m.choices);
}

/**
 * Provider and billed cost of actual usage, each rounded up once from the exact cost: the markup
 * applies to the exact provider cost, not to its rounded figure.
 */
export function settledCost(
  price: ModelPrice,
  usage: TokenUsage,
  markupPercent: number,
): { providerMicros: number; billedMicros: number } {
  const exact = costPicos(price, usage);
  return {
    providerMicros: microsOfPicos(exact),
    billedMicros: billedFromPicos(exact, markupPercent),
  };
}
