export { CATALOGUE } from './catalogue.ts';
export { estimateMaxCost, maxOutputTokensWithin, priceUsage, type TokenUsage } from './cost.ts';
export { estimateInputTokens, estimateTokensFromText } from './estimate-tokens.ts';
export type { ModelPrice } from './model-price.ts';
export { applyMarkup, centsToMicros, microsToCents } from './money.ts';
export { createPriceBook, type PriceBook, type PriceOverride } from './price-book.ts';
