import { CATALOGUE } from './catalogue.ts';
import { assertCount } from './integer.ts';
import type { ModelPrice } from './model-price.ts';

/** A workspace's own price for one model (POST /v1/prices), in micro-USD per 1M tokens. */
export interface PriceOverride {
  /** `provider/model`; a model missing from the catalogue is added to the book. */
  model: string;
  inputPerMTok: number;
  outputPerMTok: number;
  /** Omitted: the catalogue's value for a known model, else `inputPerMTok` (no discount). */
  cachedInputPerMTok?: number;
  /** Omitted: the catalogue's value for a known model, else `inputPerMTok` (no surcharge). */
  cacheWritePerMTok?: number;
  /** Omitted: the catalogue's value for a known model, else 128000. */
  contextWindow?: number;
  /** Omitted: the catalogue's value for a known model, else 16384. */
  maxOutputTokens?: number;
  /** `YYYY-MM-DD` the operator set the price; omitted: empty (this package reads no clock). */
  asOf?: string;
}

/** The prices one workspace sees: the catalogue with its overrides applied. Immutable. */
export interface PriceBook {
  /** Exact `provider/model` lookup; undefined means no known price (the request is refused). */
  get(model: string): ModelPrice | undefined;
  /** Every price, sorted by model; a fresh array on each call. */
  list(): ModelPrice[];
}

const OVERRIDE_SOURCE = 'workspace override';
const DEFAULT_CONTEXT_WINDOW = 128_000;
const DEFAULT_MAX_OUTPUT_TOKENS = 16_384;
const MODEL_NAME = /^([^/\s]+)\/\S+$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** The provider of a `provider/model` name; throws on a name without one. */
function providerOf(model: string): string {
  const match = MODEL_NAME.exec(model);
  if (match?.[1] === undefined) {
    throw new RangeError(`model must be named provider/model, got ${JSON.stringify(model)}`);
  }
  return match[1];
}

/** Overrides come from operators: refuse what would make money math wrong rather than bill it. */
function validateOverride(override: PriceOverride): void {
  providerOf(override.model);
  const what = `price override for ${override.model}`;
  assertCount(override.inputPerMTok, `${what}: inputPerMTok`);
  assertCount(override.outputPerMTok, `${what}: outputPerMTok`);
  if (override.cachedInputPerMTok !== undefined) {
    assertCount(override.cachedInputPerMTok, `${what}: cachedInputPerMTok`);
  }
  if (override.cacheWritePerMTok !== undefined) {
    assertCount(override.cacheWritePerMTok, `${what}: cacheWritePerMTok`);
  }
  if (override.contextWindow !== undefined) {
    assertCount(override.contextWindow, `${what}: contextWindow`);
  }
  if (override.maxOutputTokens !== undefined) {
    assertCount(override.maxOutputTokens, `${what}: maxOutputTokens`);
  }
  if (override.asOf !== undefined && !DATE.test(override.asOf)) {
    throw new RangeError(`${what}: asOf must be YYYY-MM-DD, got ${JSON.stringify(override.asOf)}`);
  }
}

/** The override applied on top of the catalogue entry, or on the defaults for a new model. */
function applyOverride(override: PriceOverride, base: ModelPrice | undefined): ModelPrice {
  const input = override.inputPerMTok;
  return {
    model: override.model,
    provider: base?.provider ?? providerOf(override.model),
    inputPerMTok: input,
    outputPerMTok: override.outputPerMTok,
    cachedInputPerMTok: override.cachedInputPerMTok ?? base?.cachedInputPerMTok ?? input,
    cacheWritePerMTok: override.cacheWritePerMTok ?? base?.cacheWritePerMTok ?? input,
    contextWindow: override.contextWindow ?? base?.contextWindow ?? DEFAULT_CONTEXT_WINDOW,
    maxOutputTokens: override.maxOutputTokens ?? base?.maxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS,
    kind: base?.kind ?? 'chat',
    source: OVERRIDE_SOURCE,
    asOf: override.asOf ?? '',
  };
}

/**
 * Builds a workspace's price book once (at policy compile time), so lookups on the request path
 * are a single Map read. An override always wins over the catalogue; when one model has several
 * overrides the last one wins whole. Throws RangeError on an invalid override, so a bad price is
 * caught when the policy is compiled (and the last good one kept), never while billing.
 */
export function createPriceBook(
  overrides: readonly PriceOverride[] = [],
  catalogue: readonly ModelPrice[] = CATALOGUE,
): PriceBook {
  // Copies, frozen: callers share these objects across requests and must not alter a price.
  const builtIn = new Map(catalogue.map((entry) => [entry.model, Object.freeze({ ...entry })]));
  const byModel = new Map<string, ModelPrice>(builtIn);
  for (const override of overrides) {
    validateOverride(override);
    // Omitted fields come from the catalogue, never from an earlier override of the same model.
    const merged = applyOverride(override, builtIn.get(override.model));
    byModel.set(override.model, Object.freeze(merged));
  }
  const sorted = [...byModel.values()].sort((a, b) =>
    a.model < b.model ? -1 : a.model > b.model ? 1 : 0,
  );
  return {
    get: (model) => byModel.get(model),
    list: () => [...sorted],
  };
}
