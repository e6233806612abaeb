import { assertCount, ceilDiv, scaleDecimal, toSafeNumber } from './integer.ts';

const BASIS_POINTS = 10_000n; // 100 % expressed in hundredths of a percent
const MICROS_PER_CENT = 10_000;

/**
 * Billed cost of a whole number of provider micros with the workspace markup:
 * ceil(micros * (100 + markup) / 100) — `billedFromPicos` of that amount. The markup may carry up
 * to two decimals (12.5 %), read as an exact count of basis points; rounding goes up so a markup
 * never bills less than the provider cost it is applied to. A negative markup is refused: a
 * discount is not a markup (SPEC §7), and allowing it here would let billed cost fall under
 * provider cost silently.
 */
export function applyMarkup(micros: number, markupPercent: number): number {
  assertCount(micros, 'micros');
  return billedFromPicos(BigInt(micros) * PICOS_PER_MICRO, markupPercent);
}

/**
 * Billed micros of an exact provider cost in pico-USD (`costPicos`): the markup applied to the
 * exact cost and the result rounded up once — ceil(picos * (100 + markup) / 100 / 10^6). Rounding
 * the provider cost to micros first and the marked-up figure again billed a 0.24 µ$ request 2 µ$
 * at 10 %. Never less than the provider cost rounded up (`priceUsage`), since the markup is >= 0.
 */
export function billedFromPicos(picos: bigint, markupPercent: number): number {
  if (picos < 0n) throw new RangeError(`picos must not be negative, got ${String(picos)}`);
  const { factor } = markupOf(markupPercent);
  return toSafeNumber(ceilDiv(picos * factor, PICOS_X_BASIS_POINTS), 'billed micros');
}

/**
 * The largest exact provider cost, in pico-USD, whose billed cost (`billedFromPicos`) fits
 * `billedMicros`: ceil(x * F / 10^10) <= B  <=>  x * F <= B * 10^10  <=>  x <= floor(B * 10^10 / F).
 * Negative when the budget is.
 */
export function picosWithin(billedMicros: number, markupPercent: number): bigint {
  if (!Number.isSafeInteger(billedMicros)) {
    throw new RangeError(`billedMicros must be a safe integer, got ${String(billedMicros)}`);
  }
  const { factor } = markupOf(markupPercent);
  const scaled = BigInt(billedMicros) * PICOS_X_BASIS_POINTS;
  // BigInt division truncates toward zero; a negative budget stays negative (nothing fits).
  return scaled >= 0n ? scaled / factor : -1n;
}

const PICOS_PER_MICRO = 1_000_000n;
const PICOS_X_BASIS_POINTS = PICOS_PER_MICRO * BASIS_POINTS;

// Called several times per request with the workspace's one markup: its basis points are kept.
// A refused markup throws before it is remembered.
function markupOf(markupPercent: number): { factor: bigint } {
  if (markupPercent !== lastMarkup.percent) {
    const bp = scaleDecimal(markupPercent, 2, 'markupPercent');
    lastMarkup = {
      percent: markupPercent,
      factor: BASIS_POINTS + bp,
    };
  }
  return lastMarkup;
}

let lastMarkup = { percent: 0, factor: BASIS_POINTS };

/**
 * Wire format of money (SPEC §4): cents with up to four decimals, exactly `micros / 10_000`.
 * A single division yields the double nearest to that decimal, whose shortest printed form is
 * the decimal itself for every amount under 10^15 micros ($1B), so `centsToMicros` inverts it.
 */
export function microsToCents(micros: number): number {
  if (!Number.isSafeInteger(micros)) {
    throw new RangeError(`micros must be a safe integer, got ${String(micros)}`);
  }
  return micros / MICROS_PER_CENT;
}

/**
 * Parses a wire `*_cents` amount into integer micros: 12.3456 -> 123456, 0.0001 -> 1. Refuses
 * (RangeError) non-finite or negative amounts, more than four decimals (a fraction of a micro
 * cannot be stored), and results beyond Number.MAX_SAFE_INTEGER micros.
 */
export function centsToMicros(cents: number): number {
  return toSafeNumber(scaleDecimal(cents, 4, 'cents'), 'micros');
}
