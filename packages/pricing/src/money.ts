import { assertCount, ceilDiv, scaleDecimal, toSafeNumber } from './integer.ts';

const BASIS_POINTS = 10_000n; // 100 % expressed in hundredths of a percent
const MICROS_PER_CENT = 10_000;

/**
 * Billed cost with the workspace markup: ceil(micros * (100 + markup) / 100). The markup may carry
 * up to two decimals (12.5 %), so it is read as an exact count of basis points and the product is
 * taken in BigInt; rounding goes up so a markup never bills less than the provider cost it is
 * applied to. A negative markup is refused: a discount is not a markup (SPEC §7), and allowing it
 * here would let billed cost fall under provider cost silently.
 */
export function applyMarkup(micros: number, markupPercent: number): number {
  assertCount(micros, 'micros');
  const basisPoints = scaleDecimal(markupPercent, 2, 'markupPercent');
  const billed = ceilDiv(BigInt(micros) * (BASIS_POINTS + basisPoints), BASIS_POINTS);
  return toSafeNumber(billed, 'billed micros');
}

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
