import type { ModelPrice } from '../model-price.ts';

const ANTHROPIC = {
  provider: 'anthropic',
  kind: 'chat',
  source: 'Anthropic pricing (platform.claude.com/docs/en/about-claude/pricing)',
  asOf: '2026-11-23',
} as const;

/**
 * Cache reads cost 10% of input and cache writes 125% (the 5-minute TTL rate). 1-hour cache
 * writes cost 200% of input: usage that reports them must be priced through an override until
 * TokenUsage distinguishes the two TTLs.
 *
 * The window is 200K: prompts above it (1M beta) are billed at a higher long-context rate, so
 * capping it keeps this flat price from under-charging.
 */
export const ANTHROPIC_PRICES: readonly ModelPrice[] = [
  {
    ...ANTHROPIC,
    model: 'anthropic/claude-opus-4.5',
    inputPerMTok: 5_000_000,
    outputPerMTok: 25_000_000,
    cachedInputPerMTok: 500_000,
    cacheWritePerMTok: 6_250_000,
    contextWindow: 200_000,
    maxOutputTokens: 64_000,
  },
  {
    ...ANTHROPIC,
    model: 'anthropic/claude-sonnet-4.6',
    inputPerMTok: 3_000_000,
    outputPerMTok: 15_000_000,
    cachedInputPerMTok: 300_000,
    cacheWritePerMTok: 3_750_000,
    contextWindow: 200_000,
    maxOutputTokens: 64_000,
  },
  {
    ...ANTHROPIC,
    model: 'anthropic/claude-sonnet-4.5',
    inputPerMTok: 3_000_000,
    outputPerMTok: 15_000_000,
    cachedInputPerMTok: 300_000,
    cacheWritePerMTok: 3_750_000,
    contextWindow: 200_000,
    maxOutputTokens: 64_000,
  },
  {
    ...ANTHROPIC,
    model: 'anthropic/claude-haiku-4.5',
    inputPerMTok: 1_000_000,
    outputPerMTok: 5_000_000,
    cachedInputPerMTok: 100_000,
    cacheWritePerMTok: 1_250_000,
    contextWindow: 200_000,
    maxOutputTokens: 64_000,
  },
];
