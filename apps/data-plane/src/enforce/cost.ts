import type { ResolvedPrice } from '@tollgate/policy';
import {
  applyMarkup,
  CATALOGUE,
  type ModelPrice,
  maxOutputTokensWithin,
  priceUsage,
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
  const provider = priceUsage(m.price, {
    inputTokens: m.inputTokens,
    outputTokens: perChoice * m.choices,
  });
  return applyMarkup(provider, m.markupPercent);
}

/**
 * The largest per-choice output bound whose billed worst case fits `billedBudget`, or 0 when even
 * the prompt does not fit. Provider budget B = floor(budget · 10000 / (10000 + bp)) guarantees
 * ceil(p · (10000 + bp) / 10000) <= budget for every p <= B, i.e. markup never pushes it over.
 */
export function perChoiceWithin(m: CostModel, billedBudget: number): number {
  const bp = BigInt(Math.round(m.markupPercent * 100));
  const provider = Number((BigInt(billedBudget) * 10_000n) / (10_000n + bp));
  const total = maxOutputTokensWithin(m.price, m.inputTokens, provider);
  if (total < 0) return 0;
  return Math.floor(total / m.choices);
}

/** Billed cost of actual usage. */
export function billedCost(providerMicros: number, markupPercent: number): number {
  return applyMarkup(providerMicros, markupPercent);
}
