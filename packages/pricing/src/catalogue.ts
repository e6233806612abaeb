import { ANTHROPIC_PRICES } from './catalogue/anthropic.ts';
import { OPENAI_PRICES } from './catalogue/openai.ts';
import { OTHER_PRICES } from './catalogue/others.ts';
import type { ModelPrice } from './model-price.ts';

/**
 * The built-in price catalogue: plain data, one entry per `provider/model`, split by provider
 * only to keep files short. Prices change: each entry names its `source` and `asOf` so an operator
 * can check it, and a workspace override (see `createPriceBook`) always wins over it.
 */
export const CATALOGUE: readonly ModelPrice[] = Object.freeze([
  ...OPENAI_PRICES,
  ...ANTHROPIC_PRICES,
  ...OTHER_PRICES,
]);
