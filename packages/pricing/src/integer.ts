/**
 * Exact integer helpers shared by the money functions. Costs are products of token counts and
 * per-MTok prices, which overflow 2^53 long before they stop being realistic inputs, so every
 * product is taken in BigInt and only the final, range-checked result goes back to `number`.
 */

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Throws unless `value` is a non-negative safe integer (a token count or an amount of micros). */
export function assertCount(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${what} must be a non-negative safe integer, got ${String(value)}`);
  }
}

/** ceil(n / d) for n >= 0 and d > 0: the rounding that never under-charges. */
export function ceilDiv(n: bigint, d: bigint): bigint {
  return (n + d - 1n) / d;
}

/** Back to `number`, refusing results that a `number` could not hold exactly. */
export function toSafeNumber(value: bigint, what: string): number {
  if (value > MAX_SAFE || value < -MAX_SAFE) {
    throw new RangeError(`${what} exceeds Number.MAX_SAFE_INTEGER`);
  }
  return Number(value);
}

// What `String(n)` yields for a finite non-negative number: digits, optional fraction, optional
// exponent (JS switches to exponent form below 1e-6 and from 1e21).
const DECIMAL = /^(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/;

/**
 * The exact value of `value * 10^decimals` as a BigInt, read from the number's shortest decimal
 * form (the digits a user or a JSON document wrote) rather than by float multiplication, which
 * turns 0.29 * 100 into 28.999999999999996. Throws when the number is not finite, is negative, or
 * carries more than `decimals` fractional digits.
 */
export function scaleDecimal(value: number, decimals: number, what: string): bigint {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new RangeError(`${what} must be a finite number, got ${String(value)}`);
  }
  if (value < 0) throw new RangeError(`${what} must not be negative, got ${String(value)}`);
  const match = DECIMAL.exec(String(value));
  if (match === null) throw new RangeError(`${what} is not a plain decimal: ${String(value)}`);
  const [, whole = '', fraction = '', exponent = '0'] = match;
  const digits = BigInt(whole + fraction);
  // The value is digits * 10^(exponent - fraction.length); scaling adds `decimals`.
  const shift = decimals + Number(exponent) - fraction.length;
  if (shift >= 0) return digits * 10n ** BigInt(shift);
  const divisor = 10n ** BigInt(-shift);
  if (digits % divisor !== 0n) {
    throw new RangeError(`${what} has more than ${decimals} decimals: ${String(value)}`);
  }
  return digits / divisor;
}
