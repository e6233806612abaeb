import { describe, expect, it } from 'vitest';
import {
  applyMarkup,
  billedFromPicos,
  centsToMicros,
  microsToCents,
  picosWithin,
} from './money.ts';

describe('applyMarkup', () => {
  it.each([
    [1000, 0, 1000],
    [1000, 10, 1100], // 1000 * 110 / 100
    [1000, 12.5, 1125], // 1000 * 11250 / 10000
    [1, 12.5, 2], // 1.125 -> 2
    [999, 0.01, 1000], // 999 * 10001 / 10000 = 999.0999 -> 1000
    [7, 33.33, 10], // 7 * 13333 / 10000 = 9.3331 -> 10
    [0, 50, 0],
    [123_456, 100, 246_912], // doubled
    [10_000, 250.75, 35_075], // 10000 * 35075 / 10000
  ])('applyMarkup(%d, %d) = %d', (micros, markup, billed) => {
    expect(applyMarkup(micros, markup)).toBe(billed);
  });

  it('is exact where float arithmetic is not', () => {
    // 10000 * 100.29 / 100 is 10029.000000000002 as a float, which Math.ceil turns into 10030.
    expect(Math.ceil((10_000 * (100 + 0.29)) / 100)).toBe(10_030); // the float trap
    // 10000 * 10029 / 10000 = 10029 exactly
    expect(applyMarkup(10_000, 0.29)).toBe(10_029);
  });

  it('handles amounts whose product exceeds 2^53', () => {
    // 9e15 * 10001 = 9.0009e19 (beyond 2^53), / 10000 = 9_000_900_000_000_000 exactly
    expect(applyMarkup(9_000_000_000_000_000, 0.01)).toBe(9_000_900_000_000_000);
  });

  it('agrees with the exact BigInt ceil everywhere, on both sides of the 2^53 product bound', () => {
    const exact = (m: number, bp: bigint) =>
      Number((BigInt(m) * (10_000n + bp) + 9_999n) / 10_000n);
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (const markup of [0, 0.01, 12.5, 33.33, 100, 250.75]) {
      const bp = BigInt(Math.round(markup * 100));
      const bound = Math.floor(Number.MAX_SAFE_INTEGER / Number(10_000n + bp));
      const ms = [0, 1, 9_999, 10_000, 10_001, bound - 1, bound, bound + 1];
      for (let i = 0; i < 300; i++) ms.push(Math.floor(rnd() * bound), Math.floor(rnd() * 1e9));
      for (const m of ms) {
        const want = exact(m, bp);
        if (want > Number.MAX_SAFE_INTEGER) continue;
        expect(applyMarkup(m, markup)).toBe(want);
      }
    }
    // A refused markup does not become the remembered one.
    expect(applyMarkup(1_000, 10)).toBe(1_100);
    expect(() => applyMarkup(1_000, 12.345)).toThrow(RangeError);
    expect(applyMarkup(1_000, 10)).toBe(1_100);
    expect(applyMarkup(1_000, 0)).toBe(1_000);
  });

  it('refuses a billed amount beyond a safe integer', () => {
    expect(() => applyMarkup(Number.MAX_SAFE_INTEGER, 1)).toThrow(RangeError);
  });

  it.each([
    ['three decimals', 1000, 12.345],
    ['negative markup', 1000, -5],
    ['NaN markup', 1000, Number.NaN],
    ['infinite markup', 1000, Number.POSITIVE_INFINITY],
    ['fractional micros', 1.5, 10],
    ['negative micros', -1, 10],
    ['unsafe micros', 2 ** 53, 0],
  ])('refuses %s', (_case, micros, markup) => {
    expect(() => applyMarkup(micros, markup)).toThrow(RangeError);
  });
});

describe('billedFromPicos and picosWithin', () => {
  // A seeded generator, so a failure names the same case every run.
  let seed = 11;
  const rnd = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const MARKUPS = [0, 0.01, 10, 12.5, 33.33, 100, 250.75];

  it.each([
    [240_000n, 10, 1], // 0.24 µ$ at 10 %: 0.264 -> 1 (rounding the cost first gave 2)
    [40_800_000n, 10, 45], // 40.8 µ$: 44.88 -> 45 (41 × 1.1 = 45.1 -> 46)
    [1_000_000n, 10, 2], // 1 µ$ exactly: 1.1 -> 2
    [0n, 50, 0],
    [1n, 0, 1], // one pico-dollar is still charged
    [10_000_000n, 0, 10],
  ])('billedFromPicos(%d, %d) = %d', (picos, markup, billed) => {
    expect(billedFromPicos(picos, markup)).toBe(billed);
  });

  it('rounds the marked-up exact cost up once, never below the provider cost', () => {
    for (const markup of MARKUPS) {
      const factor = 10_000n + BigInt(Math.round(markup * 100));
      for (let i = 0; i < 400; i++) {
        const picos = BigInt(Math.floor(rnd() * 1e12)) * BigInt(1 + Math.floor(rnd() * 1000));
        const billed = BigInt(billedFromPicos(picos, markup));
        // The least integer b with b × 10^10 >= picos × factor.
        expect(billed * 10_000_000_000n >= picos * factor).toBe(true);
        expect((billed - 1n) * 10_000_000_000n < picos * factor).toBe(true);
        expect(billed >= (picos + 999_999n) / 1_000_000n).toBe(true);
      }
    }
  });

  it('picosWithin is the largest exact cost whose billed figure fits the budget', () => {
    for (const markup of MARKUPS) {
      for (const budget of [0, 1, 2, 3, 7, 100, 9_999, 123_457, 50_000_000]) {
        const most = picosWithin(budget, markup);
        expect(billedFromPicos(most, markup)).toBeLessThanOrEqual(budget);
        expect(billedFromPicos(most + 1n, markup)).toBeGreaterThan(budget);
      }
    }
    expect(picosWithin(-1, 10)).toBeLessThan(0n);
    expect(() => picosWithin(1.5, 10)).toThrow(RangeError);
    expect(() => billedFromPicos(-1n, 10)).toThrow(RangeError);
    expect(() => billedFromPicos(1n, 12.345)).toThrow(RangeError);
  });
});

describe('microsToCents', () => {
  it.each([
    [0, 0],
    [1, 0.0001],
    [10_000, 1],
    [123_456, 12.3456],
    [2_900, 0.29],
    [999_999_999_999_999, 99_999_999_999.9999],
    [-5, -0.0005], // a negative balance can still be printed
  ])('microsToCents(%d) = %d', (micros, cents) => {
    expect(microsToCents(micros)).toBe(cents);
  });

  it('refuses a non-integer or unsafe amount', () => {
    expect(() => microsToCents(1.5)).toThrow(RangeError);
    expect(() => microsToCents(Number.NaN)).toThrow(RangeError);
    expect(() => microsToCents(2 ** 53)).toThrow(RangeError);
  });
});

describe('centsToMicros', () => {
  it.each([
    [0, 0],
    [-0, 0],
    [0.0001, 1],
    [1e-4, 1], // same double as 0.0001
    [12.3456, 123_456],
    [0.29, 2_900], // 0.29 * 10000 is 2900.0000000000005 as a float
    [1.5e-3, 15],
    [100, 1_000_000],
    [1e11, 1e15], // printed without exponent: 100000000000
    [99_999_999_999.9999, 999_999_999_999_999],
    [900_719_925_474, 9_007_199_254_740_000],
  ])('centsToMicros(%d) = %d', (cents, micros) => {
    expect(centsToMicros(cents)).toBe(micros);
  });

  it.each([
    ['five decimals', 0.00001],
    ['exponent form below a micro', 1e-7],
    ['exponent form with a fraction', 1.5e-7],
    ['more than four decimals', 12.34567],
    ['float noise', 0.1 + 0.2], // 0.30000000000000004
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
    ['negative', -0.0001],
    ['negative whole', -1],
    ['beyond a safe integer', 1e12], // 1e16 micros
    ['exponent form beyond a safe integer', 1e21],
    ['a string', '12.5' as unknown as number],
  ])('refuses %s', (_case, cents) => {
    expect(() => centsToMicros(cents)).toThrow(RangeError);
  });

  it('inverts microsToCents below 10^15 micros (property)', () => {
    const edges = [0, 1, 9, 10, 9_999, 10_000, 10_001, 123_456_789, 999_999_999_999_999];
    for (const micros of edges) expect(centsToMicros(microsToCents(micros))).toBe(micros);
    let seed = 42;
    for (let i = 0; i < 20_000; i++) {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      // Mix magnitudes: small amounts and ones near $1B.
      const micros = i % 2 === 0 ? seed % 1_000_000 : (seed * 465_661) % 1e15;
      expect(centsToMicros(microsToCents(micros))).toBe(micros);
    }
  });
});
