import type { ModelPrice } from '../model-price.ts';

const AS_OF = '2026-11-23';
const GOOGLE = {
  provider: 'google',
  kind: 'chat',
  source: 'Gemini API pricing (ai.google.dev/gemini-api/docs/pricing)',
  asOf: AS_OF,
} as const;
// Meta sells no API of its own: these are a host's list prices, the usual upstream for `meta/`.
const META = {
  provider: 'meta',
  kind: 'chat',
  source: 'Together AI serverless pricing (together.ai/pricing)',
  asOf: AS_OF,
} as const;
const MISTRAL = {
  provider: 'mistral',
  kind: 'chat',
  source: 'Mistral AI pricing (mistral.ai/pricing)',
  asOf: AS_OF,
} as const;
const DEEPSEEK = {
  provider: 'deepseek',
  kind: 'chat',
  source: 'DeepSeek models & pricing (api-docs.deepseek.com/quick_start/pricing)',
  asOf: AS_OF,
} as const;
const MOONSHOT = {
  provider: 'moonshot',
  kind: 'chat',
  source: 'Moonshot AI pricing (platform.moonshot.ai/docs/pricing/chat)',
  asOf: AS_OF,
} as const;

/** Providers without a cache-write surcharge: `cacheWritePerMTok` equals `inputPerMTok`. */
export const OTHER_PRICES: readonly ModelPrice[] = [
  // Prompts over 200K tokens are billed at a higher tier; the window is capped at 200K so this
  // flat price is never an under-charge.
  {
    ...GOOGLE,
    model: 'google/gemini-2.5-pro',
    inputPerMTok: 1_250_000,
    outputPerMTok: 10_000_000,
    cachedInputPerMTok: 125_000,
    cacheWritePerMTok: 1_250_000,
    contextWindow: 200_000,
    maxOutputTokens: 65_536,
  },
  {
    ...GOOGLE,
    model: 'google/gemini-2.5-flash',
    inputPerMTok: 300_000,
    outputPerMTok: 2_500_000,
    cachedInputPerMTok: 30_000,
    cacheWritePerMTok: 300_000,
    contextWindow: 1_048_576,
    maxOutputTokens: 65_536,
  },
  {
    ...META,
    model: 'meta/llama-4-maverick',
    inputPerMTok: 270_000,
    outputPerMTok: 850_000,
    cachedInputPerMTok: 270_000,
    cacheWritePerMTok: 270_000,
    contextWindow: 1_048_576,
    maxOutputTokens: 32_768,
  },
  {
    ...META,
    model: 'meta/llama-4-scout',
    inputPerMTok: 180_000,
    outputPerMTok: 590_000,
    cachedInputPerMTok: 180_000,
    cacheWritePerMTok: 180_000,
    contextWindow: 327_680,
    maxOutputTokens: 32_768,
  },
  {
    ...MISTRAL,
    model: 'mistral/mistral-large',
    inputPerMTok: 500_000,
    outputPerMTok: 1_500_000,
    cachedInputPerMTok: 500_000,
    cacheWritePerMTok: 500_000,
    contextWindow: 262_144,
    maxOutputTokens: 32_768,
  },
  {
    ...MISTRAL,
    model: 'mistral/mistral-small',
    inputPerMTok: 100_000,
    outputPerMTok: 300_000,
    cachedInputPerMTok: 100_000,
    cacheWritePerMTok: 100_000,
    contextWindow: 131_072,
    maxOutputTokens: 32_768,
  },
  {
    ...DEEPSEEK,
    model: 'deepseek/deepseek-chat',
    inputPerMTok: 280_000,
    outputPerMTok: 420_000,
    cachedInputPerMTok: 28_000,
    cacheWritePerMTok: 280_000,
    contextWindow: 128_000,
    maxOutputTokens: 8_192,
  },
  {
    ...DEEPSEEK,
    model: 'deepseek/deepseek-reasoner',
    inputPerMTok: 280_000,
    outputPerMTok: 420_000,
    cachedInputPerMTok: 28_000,
    cacheWritePerMTok: 280_000,
    contextWindow: 128_000,
    maxOutputTokens: 65_536,
  },
  {
    ...MOONSHOT,
    model: 'moonshot/kimi-k2',
    inputPerMTok: 600_000,
    outputPerMTok: 2_500_000,
    cachedInputPerMTok: 150_000,
    cacheWritePerMTok: 600_000,
    contextWindow: 262_144,
    maxOutputTokens: 32_768,
  },
];
