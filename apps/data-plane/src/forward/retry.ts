import type { IncomingMessage } from 'node:http';

/** Retries per request (the reservation covers one answer; failed attempts cost nothing). */
export const MAX_RETRIES = 2;
export const RETRY_BASE_MS = 100;
/** A `retry-after` longer than this is not waited for: the client gets the 429 and decides. */
const MAX_RETRY_AFTER_MS = 2_000;
/** Socket errors meaning the upstream was not reached or dropped the connection. */
export const RETRY_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** The wait before retry number `n` (1-based): jittered exponential backoff, or the upstream's
 * `retry-after-ms` / `retry-after` when it asks for at most 2 s; null when it asks for longer. */
export function retryDelayMs(
  n: number,
  headers: IncomingMessage['headers'] | null,
  baseMs = RETRY_BASE_MS,
  nowMs = Date.now(),
): number | null {
  const ms = headers?.['retry-after-ms'];
  const after = headers?.['retry-after'];
  let asked: number | null = null;
  if (typeof ms === 'string' && /^\d+(\.\d+)?$/.test(ms.trim())) asked = Number(ms);
  else if (typeof after === 'string' && after.trim() !== '') {
    const text = after.trim();
    if (/^\d+(\.\d+)?$/.test(text)) asked = Number(text) * 1000;
    else if (!Number.isNaN(Date.parse(text))) asked = Math.max(0, Date.parse(text) - nowMs);
  }
  if (asked !== null) return asked > MAX_RETRY_AFTER_MS ? null : asked;
  const ceiling = baseMs * 2 ** (n - 1);
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}
