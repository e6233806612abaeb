import { microsToCents } from '@tollgate/pricing';

/** BigInt micro-USD from the database → cents on the wire (≤ 4 decimals, exact). */
export function centsOf(micros: bigint | number | null | undefined): number | null {
  if (micros === null || micros === undefined) return null;
  const n = typeof micros === 'bigint' ? Number(micros) : micros;
  if (!Number.isSafeInteger(n)) throw new RangeError('amount beyond safe integer range');
  return microsToCents(n);
}

export function toMicrosBig(micros: number | null | undefined): bigint | null {
  return micros === null || micros === undefined ? null : BigInt(micros);
}
