// Money in the console: the API speaks cents (Float, exact to the micro-USD); people type and read
// dollars. Parsing goes through integer micro-USD so "0.1" + "0.2" never becomes 0.30000000000000004.

const MICROS_PER_CENT = 10_000;

/** Integer micro-USD of a cents amount from the API (which is exact to the micro). */
export function centsToMicros(cents: number): number {
  return Math.round(cents * MICROS_PER_CENT);
}

/**
 * Money exactly as the API gives it (cents exact to the micro-USD): "$1,234.50", "$10.005",
 * "$0.0123", "$1,000.000001". Up to 6 decimals (one micro-USD), trailing zeros trimmed but at least
 * 2 kept, thousands separated; never rounded to fewer digits (a cap of $10.005 is not "$10.01").
 */
export function formatUsd(cents: number | null | undefined): string {
  if (cents === null || cents === undefined || !Number.isFinite(cents)) return '—';
  const micros = centsToMicros(cents);
  const negative = micros < 0;
  const abs = Math.abs(micros);
  // Integer arithmetic on micro-USD: no float formatting can round a digit away.
  const whole = Math.floor(abs / 1_000_000);
  let frac = String(abs % 1_000_000)
    .padStart(6, '0')
    .replace(/0+$/, '');
  if (frac.length < 2) frac = frac.padEnd(2, '0');
  const text = `${whole.toLocaleString('en-US')}.${frac}`;
  return `${negative ? '-' : ''}$${text}`;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * A dollar amount typed by a person ("12", "12.5", "$1,000.25", "0.000001") as cents, exact to
 * the micro-USD. Empty → null (no cap). Anything else — negative, more than 6 decimals, letters,
 * absurdly large — is an error message, never a silently rounded number.
 */
export function parseDollars(input: string): Parsed<number | null> {
  const text = input.trim().replace(/^\$/, '').replace(/,/g, '');
  if (text === '') return { ok: true, value: null };
  const m = /^(\d+)(?:\.(\d{0,6}))?$/.exec(text);
  if (!m) {
    if (/^-/.test(text)) return { ok: false, error: 'must not be negative' };
    if (/^\d+\.\d{7,}$/.test(text))
      return { ok: false, error: 'at most 6 decimals (one micro-dollar)' };
    return { ok: false, error: 'must be a dollar amount like 25 or 12.50' };
  }
  const whole = m[1]!;
  const frac = (m[2] ?? '').padEnd(6, '0');
  if (whole.replace(/^0+/, '').length > 9) return { ok: false, error: 'is too large' };
  const micros = Number(whole) * 1_000_000 + Number(frac);
  return { ok: true, value: micros / MICROS_PER_CENT };
}

/** Cents as the dollar string a form field starts with ("" for no cap). */
export function centsToDollarInput(cents: number | null | undefined): string {
  if (cents === null || cents === undefined) return '';
  const micros = centsToMicros(cents);
  const whole = Math.trunc(micros / 1_000_000);
  const frac = String(micros % 1_000_000)
    .padStart(6, '0')
    .replace(/0+$/, '');
  return frac ? `${whole}.${frac.length < 2 ? frac.padEnd(2, '0') : frac}` : String(whole);
}

/** A non-negative whole number from a form field; empty → null (no limit). */
export function parseLimit(input: string, max = 2_147_483_647): Parsed<number | null> {
  const text = input.trim().replace(/[,_\s]/g, '');
  if (text === '') return { ok: true, value: null };
  if (!/^\d+$/.test(text)) return { ok: false, error: 'must be a whole number' };
  const n = Number(text);
  if (n > max) return { ok: false, error: `must be at most ${max.toLocaleString('en-US')}` };
  return { ok: true, value: n };
}

/**
 * A model as the API names it (the control plane's MODEL_PATTERN): a lowercase provider, "/", the
 * model ("openai/gpt-4o-mini").
 */
export const MODEL_NAME = /^[a-z0-9][a-z0-9_.-]{0,63}\/[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$/;

/** "openai/gpt-4o, anthropic/claude" or one per line → a de-duplicated list; empty → []. */
export function parseModelList(input: string): Parsed<string[]> {
  const items = input
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = items.find((s) => !MODEL_NAME.test(s));
  if (bad) return { ok: false, error: `"${bad}" is not a provider/model name` };
  return { ok: true, value: [...new Set(items)] };
}

export interface SpendBar {
  /** Settled spend as a share of the cap, 0‥1 (clamped); null without a cap. */
  spent: number | null;
  /** Reserved (in-flight) spend as a share of the cap, clamped so spent + reserved ≤ 1. */
  reserved: number | null;
  /** Whole percent of the cap used (settled), unclamped: 120 when over. */
  percent: number | null;
  level: 'ok' | 'warning' | 'exhausted' | 'uncapped';
  label: string;
}

/** What the spend-vs-cap bar shows: shares of the cap, a level for colour, a text for readers. */
export function spendBar(
  spentCents: number,
  reservedCents: number,
  capCents: number | null | undefined,
  warnAt = 0.8,
): SpendBar {
  if (capCents === null || capCents === undefined) {
    return {
      spent: null,
      reserved: null,
      percent: null,
      level: 'uncapped',
      label: `${formatUsd(spentCents)} spent, no cap`,
    };
  }
  // Ratios from integer micro-USD, so 29¢ of $1 reads 29 %, not 28.999… → 28 %.
  const capMicros = Math.max(centsToMicros(capCents), 0);
  const spentMicros = centsToMicros(spentCents);
  const reservedMicros = centsToMicros(reservedCents);
  const ratio =
    capMicros === 0 ? (spentMicros > 0 ? Number.POSITIVE_INFINITY : 1) : spentMicros / capMicros;
  const spent = Math.min(Math.max(ratio, 0), 1);
  const reserved =
    capMicros === 0 ? 0 : Math.min(Math.max(reservedMicros / capMicros, 0), 1 - spent);
  // A zero cap (a prepaid sub-account without credits, a budget set to 0) refuses every request:
  // exhausted, and said so rather than "0 %" under a full red bar.
  const percent =
    capMicros === 0
      ? 100
      : Number.isFinite(ratio)
        ? Math.floor((spentMicros * 100) / capMicros)
        : 100;
  const level = ratio >= 1 ? 'exhausted' : ratio >= warnAt ? 'warning' : 'ok';
  const reservedText = reservedCents > 0 ? `, ${formatUsd(reservedCents)} reserved` : '';
  const share = capMicros === 0 ? 'a zero cap: nothing can be spent' : `${percent}%`;
  return {
    spent,
    reserved,
    percent,
    level,
    label: `${formatUsd(spentCents)} of ${formatUsd(capCents)} (${share})${reservedText}`,
  };
}

/** `YYYY-MM` of a date (UTC), and the month before/after, for the tag spend month picker. */
export function monthOf(date: Date): string {
  return date.toISOString().slice(0, 7);
}

export function shiftMonth(month: string, by: number): string {
  const [y, m] = month.split('-').map(Number) as [number, number];
  const d = new Date(Date.UTC(y, m - 1 + by, 1));
  return monthOf(d);
}
