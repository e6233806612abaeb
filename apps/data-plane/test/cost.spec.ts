import type { ModelPrice } from '@tollgate/pricing';
import { describe, expect, it } from 'vitest';
import { billedWorstCase, type CostModel, perChoiceWithin } from '../src/enforce/cost.ts';

const PRICE: ModelPrice = {
  model: 'test/model',
  provider: 'test',
  inputPerMTok: 0,
  outputPerMTok: 0,
  cachedInputPerMTok: 0,
  cacheWritePerMTok: 0,
  contextWindow: 128_000,
  maxOutputTokens: 16_384,
  kind: 'chat',
  source: 'test',
  asOf: '2026-12-07',
};

describe('clamping a request to a billed budget, with markup', () => {
  it('gives the largest output bound whose marked-up worst case fits, on random prices (property)', () => {
    let seed = 20261207;
    const int = (max: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return Math.floor((seed / 2 ** 31) * (max + 1));
    };
    const markups = [0, 0.01, 10, 12.5, 33.33, 250.75];
    let clamped = 0;
    for (let i = 0; i < 5_000; i++) {
      const m: CostModel = {
        price: {
          ...PRICE,
          // Prices from fractions of a micro-dollar per token up to $200 per MTok.
          inputPerMTok: int(i % 2 === 0 ? 50_000 : 200_000_000),
          outputPerMTok: 1 + int(i % 3 === 0 ? 50_000 : 200_000_000),
          maxOutputTokens: 1 + int(100_000),
        },
        markupPercent: markups[i % markups.length]!,
        inputTokens: int(i % 5 === 0 ? 20 : 200_000),
        choices: 1 + int(3),
      };
      const budget = int(i % 7 === 0 ? 30 : 20_000_000);
      const n = perChoiceWithin(m, budget);
      if (n > 0) expect(billedWorstCase(m, n)).toBeLessThanOrEqual(budget);
      if (n * m.choices + m.choices <= m.price.maxOutputTokens) {
        // One more token per choice would not fit (or the prompt alone does not: n = 0).
        expect(billedWorstCase(m, n + 1)).toBeGreaterThan(budget);
        clamped++;
      }
    }
    expect(clamped).toBeGreaterThan(1_000);
  });
});
