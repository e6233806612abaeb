import { describe, expect, it } from 'vitest';
import { estimateMaxCost, maxOutputTokensWithin, priceUsage } from './cost.ts';
import type { ModelPrice } from './model-price.ts';

// $2.50 in, $10 out, $1.25 cache read, $3.125 cache write per MTok; 16,384 max output.
const PRICE: ModelPrice = {
  model: 'test/model',
  provider: 'test',
  inputPerMTok: 2_500_000,
  outputPerMTok: 10_000_000,
  cachedInputPerMTok: 1_250_000,
  cacheWritePerMTok: 3_125_000,
  contextWindow: 128_000,
  maxOutputTokens: 16_384,
  kind: 'chat',
  source: 'test',
  asOf: '2026-11-23',
};

describe('priceUsage', () => {
  it('prices input and output exactly', () => {
    // 1000 * 2.5e6 + 500 * 1e7 = 2.5e9 + 5e9 = 7.5e9; / 1e6 = 7500
    expect(priceUsage(PRICE, { inputTokens: 1000, outputTokens: 500 })).toBe(7500);
    // 400 * 2.5e6 = 1e9 -> exactly 1000, no rounding
    expect(priceUsage(PRICE, { inputTokens: 400, outputTokens: 0 })).toBe(1000);
    expect(priceUsage(PRICE, { inputTokens: 0, outputTokens: 0 })).toBe(0);
  });

  it('rounds up, once, at the end', () => {
    // 1 * 2.5e6 / 1e6 = 2.5 -> 3
    expect(priceUsage(PRICE, { inputTokens: 1, outputTokens: 0 })).toBe(3);
    // 1 token at 1 micro/MTok = 0.000001 micros -> 1: never bills 0 for work done
    expect(priceUsage({ ...PRICE, inputPerMTok: 1 }, { inputTokens: 1, outputTokens: 0 })).toBe(1);
    // one token of each class: 2.5e6 + 1.25e6 + 3.125e6 + 1e7 = 16.875e6 -> 16.875 -> 17
    // (rounding each class apart would give 3 + 2 + 4 + 10 = 19)
    const usage = { inputTokens: 3, cachedInputTokens: 1, cacheWriteTokens: 1, outputTokens: 1 };
    expect(priceUsage(PRICE, usage)).toBe(17);
  });

  it('prices cached and cache-write tokens out of inputTokens', () => {
    // uncached = 10000 - 6000 - 3000 = 1000
    // 1000*2.5e6 + 6000*1.25e6 + 3000*3.125e6 + 200*1e7
    //   = 2.5e9 + 7.5e9 + 9.375e9 + 2e9 = 21.375e9 -> 21375
    const usage = {
      inputTokens: 10_000,
      cachedInputTokens: 6_000,
      cacheWriteTokens: 3_000,
      outputTokens: 200,
    };
    expect(priceUsage(PRICE, usage)).toBe(21_375);
  });

  it('clamps uncached input at zero but still charges cache tokens', () => {
    // 80 + 50 > 100: uncached = 0
    // 80*1.25e6 + 50*3.125e6 = 1e8 + 1.5625e8 = 2.5625e8 -> 256.25 -> 257
    const usage = {
      inputTokens: 100,
      cachedInputTokens: 80,
      cacheWriteTokens: 50,
      outputTokens: 0,
    };
    expect(priceUsage(PRICE, usage)).toBe(257);
  });

  it('is exact where float arithmetic is not (BigInt path)', () => {
    // 309_323_879_614 * 2_500_000 = 773_309_699_035_000_000 exactly, / 1e6 = 773_309_699_035.
    // As a double the product is 773_309_699_035_000_064, so the float path rounds up to ...036.
    const tokens = 309_323_879_614;
    expect(Math.ceil((tokens * 2_500_000) / 1e6)).toBe(773_309_699_036); // the float trap
    expect(priceUsage(PRICE, { inputTokens: tokens, outputTokens: 0 })).toBe(773_309_699_035);
    // 3_000_000_000_001 * 1e7 = 30_000_000_000_010_000_000 -> 30_000_000_000_010
    expect(priceUsage(PRICE, { inputTokens: 0, outputTokens: 3_000_000_000_001 })).toBe(
      30_000_000_000_010,
    );
  });

  it('accepts the largest token count when the cost fits', () => {
    // MAX_SAFE = 9_007_199_254_740_991 tokens at 1 micro/MTok
    //   -> ceil(9_007_199_254.740991) = 9_007_199_255
    const usage = { inputTokens: Number.MAX_SAFE_INTEGER, outputTokens: 0 };
    expect(priceUsage({ ...PRICE, inputPerMTok: 1 }, usage)).toBe(9_007_199_255);
  });

  it('refuses a cost beyond a safe integer', () => {
    // MAX_SAFE * 2.5e6 / 1e6 ~ 2.25e16 micros > MAX_SAFE
    const usage = { inputTokens: Number.MAX_SAFE_INTEGER, outputTokens: 0 };
    expect(() => priceUsage(PRICE, usage)).toThrow(RangeError);
  });

  it.each([
    { inputTokens: -1, outputTokens: 0 },
    { inputTokens: 1.5, outputTokens: 0 },
    { inputTokens: Number.NaN, outputTokens: 0 },
    { inputTokens: 0, outputTokens: Number.POSITIVE_INFINITY },
    { inputTokens: 10, outputTokens: 0, cachedInputTokens: -1 },
    { inputTokens: 10, outputTokens: 0, cacheWriteTokens: 0.5 },
  ])('refuses invalid token counts %o', (usage) => {
    expect(() => priceUsage(PRICE, usage)).toThrow(RangeError);
  });
});

describe('estimateMaxCost', () => {
  it("defaults to the model's max output tokens", () => {
    // 1000 * 2.5e6 + 16384 * 1e7 = 2.5e9 + 163.84e9 = 166.34e9 -> 166_340
    expect(estimateMaxCost(PRICE, { inputTokens: 1000 })).toBe(166_340);
  });

  it('uses the requested max tokens, never above the model maximum', () => {
    // 2.5e9 + 100 * 1e7 = 3.5e9 -> 3500
    expect(estimateMaxCost(PRICE, { inputTokens: 1000, maxOutputTokens: 100 })).toBe(3500);
    expect(estimateMaxCost(PRICE, { inputTokens: 1000, maxOutputTokens: 0 })).toBe(2500);
    // 1_000_000 requested is capped to 16_384: same as the default
    expect(estimateMaxCost(PRICE, { inputTokens: 1000, maxOutputTokens: 1_000_000 })).toBe(166_340);
  });

  it('prices all input as uncached and rounds up', () => {
    // 1 * 2.5e6 -> 2.5 -> 3
    expect(estimateMaxCost(PRICE, { inputTokens: 1, maxOutputTokens: 0 })).toBe(3);
  });

  it('refuses invalid counts', () => {
    expect(() => estimateMaxCost(PRICE, { inputTokens: -1 })).toThrow(RangeError);
    expect(() => estimateMaxCost(PRICE, { inputTokens: 1, maxOutputTokens: -5 })).toThrow(
      RangeError,
    );
    expect(() => estimateMaxCost(PRICE, { inputTokens: 1, maxOutputTokens: 2.5 })).toThrow(
      RangeError,
    );
  });
});

describe('maxOutputTokensWithin', () => {
  it('solves the budget exactly', () => {
    // room = 3500e6 - 1000*2.5e6 = 1e9; / 1e7 = 100 tokens. 101 would cost 3510.
    expect(maxOutputTokensWithin(PRICE, 1000, 3500)).toBe(100);
    // room = 3509e6 - 2.5e9 = 1.009e9 -> 100.9 -> 100 (101 costs 3510 > 3509)
    expect(maxOutputTokensWithin(PRICE, 1000, 3509)).toBe(100);
    expect(maxOutputTokensWithin(PRICE, 1000, 3510)).toBe(101);
  });

  it('accounts for the rounding of the input cost', () => {
    // 1 input token costs 2.5 -> 3 micros. Budget 3: room = 3e6 - 2.5e6 = 5e5 < 1e7 -> 0 output.
    expect(maxOutputTokensWithin(PRICE, 1, 3)).toBe(0);
    // Budget 13: room = 10.5e6 -> 1 output token; cost(1) = ceil(12.5) = 13, cost(2) = 23.
    expect(maxOutputTokensWithin(PRICE, 1, 13)).toBe(1);
    expect(estimateMaxCost(PRICE, { inputTokens: 1, maxOutputTokens: 1 })).toBe(13);
  });

  it('returns -1 when the input alone does not fit', () => {
    // 1000 input tokens cost exactly 2500
    expect(maxOutputTokensWithin(PRICE, 1000, 2499)).toBe(-1);
    expect(maxOutputTokensWithin(PRICE, 1000, 2500)).toBe(0);
    expect(maxOutputTokensWithin(PRICE, 0, -1)).toBe(-1);
  });

  it('is capped at the model maximum', () => {
    expect(maxOutputTokensWithin(PRICE, 1000, 1_000_000_000)).toBe(16_384);
  });

  it('gives the whole cap when output is free (embeddings)', () => {
    const embedding = {
      ...PRICE,
      outputPerMTok: 0,
      maxOutputTokens: 0,
      kind: 'embedding' as const,
    };
    expect(maxOutputTokensWithin(embedding, 1000, 2500)).toBe(0);
    expect(maxOutputTokensWithin(embedding, 1000, 2499)).toBe(-1);
  });

  it('refuses invalid arguments', () => {
    expect(() => maxOutputTokensWithin(PRICE, -1, 100)).toThrow(RangeError);
    expect(() => maxOutputTokensWithin(PRICE, 1, 1.5)).toThrow(RangeError);
    expect(() => maxOutputTokensWithin(PRICE, 1, Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });

  it('agrees with estimateMaxCost on random prices and budgets (property)', () => {
    const random = mulberry32(20261123);
    const int = (max: number) => Math.floor(random() * (max + 1));
    const seen = { refused: 0, capped: 0, exact: 0 };
    for (let i = 0; i < 20_000; i++) {
      const price: ModelPrice = {
        ...PRICE,
        inputPerMTok: int(i % 2 === 0 ? 100 : 80_000_000),
        outputPerMTok: int(i % 3 === 0 ? 1_000 : 200_000_000),
        maxOutputTokens: int(200_000),
      };
      const inputTokens = int(i % 5 === 0 ? 50 : 2_000_000);
      const budget = int(i % 7 === 0 ? 100 : 50_000_000);
      const n = maxOutputTokensWithin(price, inputTokens, budget);
      const cost = (out: number) => estimateMaxCost(price, { inputTokens, maxOutputTokens: out });
      if (n === -1) {
        expect(cost(0)).toBeGreaterThan(budget);
        seen.refused++;
        continue;
      }
      expect(n).toBeGreaterThanOrEqual(0);
      expect(n).toBeLessThanOrEqual(price.maxOutputTokens);
      expect(cost(n)).toBeLessThanOrEqual(budget);
      if (n < price.maxOutputTokens) {
        expect(cost(n + 1)).toBeGreaterThan(budget);
        seen.exact++;
      } else seen.capped++;
    }
    // Every branch must actually be exercised, or the property proves little.
    expect(seen.refused).toBeGreaterThan(1000);
    expect(seen.capped).toBeGreaterThan(1000);
    expect(seen.exact).toBeGreaterThan(1000);
  });
});

/** Small seeded PRNG so the property test is reproducible. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
