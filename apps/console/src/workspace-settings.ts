import type { BudgetPeriod, UpdateWorkspaceInput } from './generated/graphql.ts';
import { centsToDollarInput, type Parsed, parseDollars } from './money.ts';

// The workspace's own settings form (Settings page): text fields in, the API's input out (only
// what changed), or an error per field — nothing is sent while any field is wrong. The markup's
// upper bound is the API's rule (UpdateWorkspaceInput): the form checks what it must to build an
// exact request, and a value the API refuses comes back as a ValidationError naming its field,
// shown under that field (apiFieldErrors) in the API's own words.

export interface WorkspaceForm {
  /** Dollars; empty = no workspace cap. */
  cap: string;
  period: BudgetPeriod;
  /** Percent, up to 2 decimals; required (the workspace markup has no "inherit"). */
  markup: string;
  byokWaivesMarkup: boolean;
}

export type WorkspaceErrors = Partial<Record<keyof WorkspaceForm, string>>;

export interface WorkspaceValues {
  spendCapCents: number | null;
  budgetPeriod: BudgetPeriod;
  markupPercent: number;
  byokWaivesMarkup: boolean;
}

/** The stored settings as the form starts with them. */
export function workspaceFormOf(ws: WorkspaceValues): WorkspaceForm {
  return {
    cap: centsToDollarInput(ws.spendCapCents),
    period: ws.budgetPeriod,
    markup: String(ws.markupPercent),
    byokWaivesMarkup: ws.byokWaivesMarkup,
  };
}

/** A workspace markup: a non-negative percentage with at most 2 decimals ("20", "12.5 %"). */
export function parseWorkspaceMarkup(input: string): Parsed<number> {
  const text = input.trim().replace(/%$/, '').trim();
  if (text === '') return { ok: false, error: 'enter a percentage (0 for no markup)' };
  if (/^-/.test(text)) return { ok: false, error: 'must not be negative' };
  if (!/^\d+(\.\d{1,2})?$/.test(text))
    return { ok: false, error: 'a percentage like 20 or 12.5 (at most 2 decimals)' };
  return { ok: true, value: Number(text) };
}

export function parseWorkspaceForm(
  form: WorkspaceForm,
): { ok: true; values: WorkspaceValues } | { ok: false; errors: WorkspaceErrors } {
  const errors: WorkspaceErrors = {};
  const cap = parseDollars(form.cap);
  if (!cap.ok) errors.cap = cap.error;
  const markup = parseWorkspaceMarkup(form.markup);
  if (!markup.ok) errors.markup = markup.error;
  if (!cap.ok || !markup.ok) return { ok: false, errors };
  return {
    ok: true,
    values: {
      spendCapCents: cap.value,
      budgetPeriod: form.period,
      markupPercent: markup.value,
      byokWaivesMarkup: form.byokWaivesMarkup,
    },
  };
}

/**
 * The update: only the settings that differ from the stored ones (`base`). An emptied cap is sent
 * as `spendCapCents: null`, which removes it; an absent field stays unchanged.
 */
export function workspaceUpdateInput(
  base: WorkspaceValues,
  form: WorkspaceForm,
): { ok: true; input: UpdateWorkspaceInput } | { ok: false; errors: WorkspaceErrors } {
  const parsed = parseWorkspaceForm(form);
  if (!parsed.ok) return parsed;
  const v = parsed.values;
  const input: UpdateWorkspaceInput = {};
  if (v.spendCapCents !== base.spendCapCents) input.spendCapCents = v.spendCapCents;
  if (v.budgetPeriod !== base.budgetPeriod) input.budgetPeriod = v.budgetPeriod;
  if (v.markupPercent !== base.markupPercent) input.markupPercent = v.markupPercent;
  if (v.byokWaivesMarkup !== base.byokWaivesMarkup) input.byokWaivesMarkup = v.byokWaivesMarkup;
  return { ok: true, input };
}

const API_FIELDS: Record<string, keyof WorkspaceForm> = {
  spendCapCents: 'cap',
  budgetPeriod: 'period',
  markupPercent: 'markup',
  byokWaivesMarkup: 'byokWaivesMarkup',
};

/**
 * The API's ValidationError as a field error: under the field it names, in the API's words (the
 * "markupPercent: " prefix dropped — the field's label says it). Unknown or no field → null (the
 * caller shows the whole message in the form's alert line).
 */
export function apiFieldErrors(
  field: string | null | undefined,
  message: string,
): WorkspaceErrors | null {
  const key = field ? API_FIELDS[field] : undefined;
  if (!field || !key) return null;
  const text = message.startsWith(`${field}: `) ? message.slice(field.length + 2) : message;
  return { [key]: text };
}

/** "$1,000.00 / monthly" or "no cap" — the summary line of the page. */
export function workspaceCapText(
  capCents: number | null,
  period: BudgetPeriod,
  format: (cents: number) => string,
): string {
  return capCents === null ? 'no cap' : `${format(capCents)} / ${period}`;
}
