import { validationMessage } from './errors.ts';
import type { BudgetPeriod, UpdateWorkspaceInput } from './generated/graphql.ts';
import { centsToDollarInput, type Parsed, parseDollars } from './money.ts';

// The workspace's own settings form (Settings page): text fields in, the API's input out (only
// what changed), or an error per field — nothing is sent while any field is wrong. The form checks
// the API's rules it knows (the markup's 0–1000 % with 2 decimals: the control plane's markupField);
// a value the API still refuses comes back as a ValidationError naming its field, shown under that
// field (apiFieldErrors) as a sentence naming it ("Markup must be at most 1000 %.").

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

/** The API's largest markup (the control plane's markupField): 1000 %. */
export const MAX_MARKUP_PERCENT = 1000;

/** A workspace markup: 0 to 1000 %, at most 2 decimals ("20", "12.5 %"). */
export function parseWorkspaceMarkup(input: string): Parsed<number> {
  const text = input.trim().replace(/%$/, '').trim();
  if (text === '') return { ok: false, error: 'enter a percentage (0 for no markup)' };
  if (/^-/.test(text)) return { ok: false, error: 'must not be negative' };
  if (!/^\d+(\.\d{1,2})?$/.test(text))
    return { ok: false, error: 'a percentage like 20 or 12.5 (at most 2 decimals)' };
  const value = Number(text);
  if (value > MAX_MARKUP_PERCENT)
    return { ok: false, error: `must be at most ${MAX_MARKUP_PERCENT} %` };
  return { ok: true, value };
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

/** The page's names of the API's fields where they differ from the other forms'. */
const LABELS = { spendCapCents: 'Workspace cap' };

/**
 * The API's ValidationError as a field error: under the field it names, as a sentence naming it
 * ("Markup must be at most 1000 %."). Unknown or no field → null (the caller shows the whole
 * message, through resultError, in the form's alert line).
 */
export function apiFieldErrors(
  field: string | null | undefined,
  message: string,
): WorkspaceErrors | null {
  const key = field ? API_FIELDS[field] : undefined;
  if (!field || !key) return null;
  return { [key]: validationMessage(field, message, LABELS) };
}

/** "$1,000.00 / monthly" or "no cap" — the summary line of the page. */
export function workspaceCapText(
  capCents: number | null,
  period: BudgetPeriod,
  format: (cents: number) => string,
): string {
  return capCents === null ? 'no cap' : `${format(capCents)} / ${period}`;
}
