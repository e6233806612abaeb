import type { BudgetPeriod } from './entities.ts';

/**
 * Budget periods, all in UTC so every replica and the control plane cut periods at the same instant
 * whatever their local time zone. The period key names the spend counter of one period; a new
 * period means a new counter, which is how caps "reset" without anyone resetting anything.
 */

const DAY_MS = 86_400_000;
/** Period keys use 4-digit years; beyond year 9999 they would change shape (and alphabet). */
const MAX_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

export interface PeriodWindow {
  /** First instant of the period, ms since the epoch (0 for `total`). */
  start: number;
  /** First instant of the next period; null for `total`, which never resets. */
  resetsAt: number | null;
}

function checkNow(now: number): void {
  if (!Number.isFinite(now) || now < 0 || now > MAX_TIME_MS) {
    throw new RangeError(`now must be ms between 1970 and 9999, got ${String(now)}`);
  }
}

function dayStart(now: number): number {
  return now - (now % DAY_MS);
}

/** Monday 00:00 UTC of the ISO week holding `now`. */
function weekStart(now: number): number {
  const day = dayStart(now);
  // getUTCDay: Sunday = 0 … Saturday = 6; days since Monday = (dow + 6) % 7.
  const sinceMonday = (new Date(day).getUTCDay() + 6) % 7;
  return day - sinceMonday * DAY_MS;
}

/** The period holding `now` (ms since the epoch). Throws RangeError for an unusable `now`. */
export function periodWindow(period: BudgetPeriod, now: number): PeriodWindow {
  checkNow(now);
  switch (period) {
    case 'daily': {
      const start = dayStart(now);
      return { start, resetsAt: start + DAY_MS };
    }
    case 'weekly': {
      const start = weekStart(now);
      return { start, resetsAt: start + 7 * DAY_MS };
    }
    case 'monthly': {
      const date = new Date(now);
      const year = date.getUTCFullYear();
      const month = date.getUTCMonth();
      // Date.UTC rolls month 12 over into January of the next year.
      return { start: Date.UTC(year, month, 1), resetsAt: Date.UTC(year, month + 1, 1) };
    }
    case 'total':
      return { start: 0, resetsAt: null };
    default:
      return unknownPeriod(period);
  }
}

/**
 * The counter name of the period holding `now`: `d2026-11-23` (day), `w2026-11-23` (the week's
 * Monday), `m2026-11` (month), `total`. The first letter is part of the contract: counter stores
 * derive a counter's lifetime from it (packages/bus).
 */
export function periodKey(period: BudgetPeriod, now: number): string {
  // Asked on every request for every counter: the last answer per period is kept with its window,
  // so within a period no Date is built. A `now` outside the window (another period, or unusable)
  // takes the full path, which validates it.
  const last = lastKeys.get(period);
  if (last !== undefined && now >= last.start && now < last.end) return last.key;
  const { start, resetsAt } = periodWindow(period, now);
  const key = keyOf(period, start);
  if (resetsAt !== null) lastKeys.set(period, { start, end: resetsAt, key });
  return key;
}

const lastKeys = new Map<BudgetPeriod, { start: number; end: number; key: string }>();

function keyOf(period: BudgetPeriod, start: number): string {
  const iso = new Date(start).toISOString();
  switch (period) {
    case 'daily':
      return `d${iso.slice(0, 10)}`;
    case 'weekly':
      return `w${iso.slice(0, 10)}`;
    case 'monthly':
      return `m${iso.slice(0, 7)}`;
    case 'total':
      return 'total';
    default:
      return unknownPeriod(period);
  }
}

// Reached only if a caller bypasses the types (e.g. a value straight from an untyped source).
function unknownPeriod(period: never): never {
  throw new RangeError(`unknown budget period ${JSON.stringify(period)}`);
}
