export { CATALOGUE } from './catalogue.ts';
export {
  costPicos,
  estimateMaxCost,
  maxOutputTokensWithin,
  maxOutputTokensWithinPicos,
  microsOfPicos,
  priceUsage,
  type TokenUsage,
} from './cost.ts';
export { estimateInputTokens, estimateTokensFromText } from './estimate-tokens.ts';
export type { ModelPrice } from './model-price.ts';
export {
  applyMarkup,
  billedFromPicos,
  centsToMicros,
  microsToCents,
  picosWithin,
} from './money.ts';
export { createPriceBook, type PriceBook, type PriceOverride } from './price-book.ts';
