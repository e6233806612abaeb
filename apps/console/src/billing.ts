import { formatUsd, type Parsed, parseDollars, parseModelList } from './money.ts';
import {
  emptySettings,
  parseSettings,
  type SettingsForm,
  type SettingsInput,
  settingsOf,
} from './settings.ts';

// Plans, prepaid balances and the billing export: the console's pure logic for them.

/** A top-up typed in dollars ("50", "$12.34") → whole cents, 1¢ to $1,000,000 (the API's range). */
export function parseTopUpAmount(input: string): Parsed<number> {
  const parsed = parseDollars(input);
  if (!parsed.ok) return parsed;
  if (parsed.value === null) return { ok: false, error: 'enter an amount, like 50 or 12.34' };
  const micros = Math.round(parsed.value * 10_000);
  if (micros % 10_000 !== 0) return { ok: false, error: 'whole cents only (at most 2 decimals)' };
  const cents = micros / 10_000;
  if (cents < 1) return { ok: false, error: 'must be at least $0.01' };
  if (cents > 100_000_000) return { ok: false, error: 'at most $1,000,000 per top-up' };
  return { ok: true, value: cents };
}

/** The idempotency reference of a top-up: printable ASCII, 1 to 200 characters. */
export function parseReference(input: string): Parsed<string> {
  const text = input.trim();
  if (!text) return { ok: false, error: 'a reference is required (invoice or payment id)' };
  if (text.length > 200) return { ok: false, error: 'at most 200 characters' };
  if (!/^[\x20-\x7e]+$/.test(text)) return { ok: false, error: 'printable ASCII only' };
  return { ok: true, value: text };
}

/** Micro-USD (exact, from the API) as cents for formatUsd. */
export const microsToCents = (micros: number): number => micros / 10_000;

/**
 * Forward-only ledger pages (each page's `endCursor` starts the next); going back pops the stack.
 * The first page has cursor null.
 */
export interface LedgerPager {
  cursors: Array<string | null>;
}

export const firstLedgerPage = (): LedgerPager => ({ cursors: [null] });

export function ledgerNext(p: LedgerPager, nextCursor: string | null | undefined): LedgerPager {
  return nextCursor ? { cursors: [...p.cursors, nextCursor] } : p;
}

export function ledgerPrevious(p: LedgerPager): LedgerPager {
  return p.cursors.length > 1 ? { cursors: p.cursors.slice(0, -1) } : p;
}

export const ledgerCursor = (p: LedgerPager): string | null =>
  p.cursors[p.cursors.length - 1] ?? null;

export type ExportFormat = 'csv' | 'jsonl';

/** The control plane's billing export of a month (`YYYY-MM`, UTC). */
export function exportPath(month: string, format: ExportFormat): string {
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(month)) throw new Error(`not a month: ${month}`);
  return `/v1/usage/export?month=${month}&format=${format}`;
}

export function exportFileName(month: string, format: ExportFormat): string {
  return `tollgate-usage-${month}.${format === 'csv' ? 'csv' : 'jsonl'}`;
}

/** Data lines of an export (the CSV header is not one; blank trailing lines are not either). */
export function exportLineCount(text: string, format: ExportFormat): number {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  return format === 'csv' ? Math.max(lines.length - 1, 0) : lines.length;
}

/** Plan settings a sub-account may inherit, by the REST names `inheritedFromPlan` uses. */
export const PLAN_SETTINGS: ReadonlyArray<{ api: string; label: string }> = [
  { api: 'spend_cap_cents', label: 'Spend cap' },
  { api: 'budget_period', label: 'Budget period' },
  { api: 'rate_limit_rpm', label: 'Requests per minute' },
  { api: 'rate_limit_rpd', label: 'Requests per day' },
  { api: 'rate_limit_tpm', label: 'Tokens per minute' },
  { api: 'max_concurrent', label: 'Concurrent requests' },
  { api: 'allowed_models', label: 'Allowed models' },
  { api: 'default_tag', label: 'Default tag' },
  { api: 'fallback_model', label: 'Fallback model' },
];

/** Which settings of a sub-account on a plan come from the plan and which are its own. */
export function planSources(
  inherited: readonly string[],
  prepaid: boolean,
): Array<{ api: string; label: string; source: 'plan' | 'own'; canInherit: boolean }> {
  const from = new Set(inherited);
  return PLAN_SETTINGS.map((s) => ({
    ...s,
    source: from.has(s.api) ? 'plan' : 'own',
    // A prepaid sub-account's cap and period are its credits', never the plan's.
    canInherit:
      !from.has(s.api) && !(prepaid && (s.api === 'spend_cap_cents' || s.api === 'budget_period')),
  }));
}

/** Without its own threshold, `balance.low` fires below 10 % of the credits (the API's default). */
export const DEFAULT_LOW_BALANCE_PERCENT = 10;

/**
 * A low-balance threshold typed in dollars → whole cents (the API takes an integer), 0 to
 * $1,000,000. Empty → null: no threshold of its own (the default applies; on an edit, it clears).
 */
export function parseLowBalance(input: string): Parsed<number | null> {
  const parsed = parseDollars(input);
  if (!parsed.ok || parsed.value === null) return parsed;
  const micros = Math.round(parsed.value * 10_000);
  if (micros % 10_000 !== 0) return { ok: false, error: 'whole cents only (at most 2 decimals)' };
  const cents = micros / 10_000;
  if (cents > 100_000_000) return { ok: false, error: 'at most $1,000,000' };
  return { ok: true, value: cents };
}

/** Where `balance.low` fires, for the balance card: its own threshold, or the default's amount. */
export function lowBalanceText(thresholdCents: number | null, creditsMicroUsd?: number): string {
  if (thresholdCents !== null) return `below ${formatUsd(thresholdCents)}`;
  const text = `below ${DEFAULT_LOW_BALANCE_PERCENT} % of the credits`;
  if (creditsMicroUsd === undefined) return text;
  // The API's integer arithmetic: floor(credits × 10 / 100) micro-USD.
  const micros = Math.floor((creditsMicroUsd * DEFAULT_LOW_BALANCE_PERCENT) / 100);
  return `${text} (${formatUsd(microsToCents(micros))})`;
}

/** A fallback model field: empty → null, else exactly one provider/model. */
export function parseFallback(input: string): Parsed<string | null> {
  const list = parseModelList(input);
  if (!list.ok) return list;
  if (list.value.length === 0) return { ok: true, value: null };
  if (list.value.length > 1) return { ok: false, error: 'one model only' };
  return { ok: true, value: list.value[0]! };
}

/** Only the settings that differ, so an edit never turns inherited plan values into overrides. */
export function changedSettings<T extends object>(before: T, after: T): Partial<T> {
  const out: Partial<T> = {};
  for (const key of Object.keys(after) as Array<keyof T>) {
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) out[key] = after[key];
  }
  return out;
}

/** A create input without empty settings: on a plan, a setting given (even null) is an override. */
export function givenSettings<T extends object>(input: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [key, value] of Object.entries(input) as Array<[keyof T, unknown]>) {
    if (value === null || value === undefined) continue;
    if (Array.isArray(value) && value.length === 0) continue;
    out[key] = value as T[keyof T];
  }
  return out;
}

export interface PlanForm extends SettingsForm {
  period: 'monthly' | 'weekly' | 'daily' | 'total';
  markup: string;
  fallback: string;
}

export interface PlanInput extends SettingsInput {
  budgetPeriod: PlanForm['period'];
  markupPercent: number | null;
  fallbackModel: string | null;
}

export const emptyPlanForm = (): PlanForm => ({
  ...emptySettings(),
  period: 'monthly',
  markup: '',
  fallback: '',
});

export function planFormOf(
  p: Omit<PlanInput, 'budgetPeriod'> & { budgetPeriod: string },
): PlanForm {
  return {
    ...settingsOf(p),
    period: p.budgetPeriod as PlanForm['period'],
    markup: p.markupPercent === null ? '' : String(p.markupPercent),
    fallback: p.fallbackModel ?? '',
  };
}

/** A markup percentage: empty → null (the workspace's), else 0‥1000 with at most 2 decimals. */
export function parseMarkup(input: string): Parsed<number | null> {
  const text = input.trim().replace(/%$/, '').trim();
  if (text === '') return { ok: true, value: null };
  if (!/^\d+(\.\d{1,2})?$/.test(text))
    return { ok: false, error: 'a percentage like 20 or 12.5 (at most 2 decimals)' };
  const n = Number(text);
  if (n > 1000) return { ok: false, error: 'at most 1000%' };
  return { ok: true, value: n };
}

export function parsePlanForm(
  form: PlanForm,
): { ok: true; input: PlanInput } | { ok: false; errors: Partial<Record<keyof PlanForm, string>> } {
  const base = parseSettings(form);
  const errors: Partial<Record<keyof PlanForm, string>> = base.ok ? {} : { ...base.errors };
  if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(form.name.trim()) && !errors.name)
    errors.name = 'lowercase a-z, 0-9, - and _ only (at most 64), like pro or free-tier';
  const markup = parseMarkup(form.markup);
  if (!markup.ok) errors.markup = markup.error;
  const fallback = parseFallback(form.fallback);
  if (!fallback.ok) errors.fallback = fallback.error;
  if (!base.ok || !markup.ok || !fallback.ok || Object.keys(errors).length > 0)
    return { ok: false, errors };
  const s: SettingsInput = base.input;
  return {
    ok: true,
    input: {
      ...s,
      budgetPeriod: form.period,
      markupPercent: markup.value,
      fallbackModel: fallback.value,
    },
  };
}

/** "$5.00 / monthly" or "no cap / monthly". */
export function capText(capCents: number | null, period: string, format: (c: number) => string) {
  return `${capCents === null ? 'no cap' : format(capCents)} / ${period}`;
}
