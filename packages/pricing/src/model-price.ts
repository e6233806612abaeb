/**
 * One model's price. All prices are integer micro-USD per 1,000,000 tokens, so that every cost
 * computed from them is exact integer arithmetic (never a float; see DESIGN.md, style 7).
 */
export interface ModelPrice {
  /** `provider/model`, e.g. `openai/gpt-5.4-mini`, `anthropic/claude-sonnet-4.6`. */
  model: string;
  /** The part of `model` before the first `/`, e.g. `openai`. */
  provider: string;
  /** Micro-USD per 1M uncached input tokens ($2.50/MTok -> 2_500_000). */
  inputPerMTok: number;
  /** Micro-USD per 1M output tokens (reasoning tokens are billed as output). */
  outputPerMTok: number;
  /** Micro-USD per 1M cache-read input tokens; equals `inputPerMTok` when there is no discount. */
  cachedInputPerMTok: number;
  /** Micro-USD per 1M cache-write input tokens (Anthropic); equals `inputPerMTok` otherwise. */
  cacheWritePerMTok: number;
  /** Total tokens (prompt + output) the gateway lets a request use at this price. */
  contextWindow: number;
  /** Provider's max output; the worst case reserved when a request sets no `max_tokens`. */
  maxOutputTokens: number;
  kind: 'chat' | 'embedding' | 'completion';
  /** Where the price comes from: the provider pricing page, or `workspace override`. */
  source: string;
  /** `YYYY-MM-DD` date the price was taken; empty when an override did not say. */
  asOf: string;
}
