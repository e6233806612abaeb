import { changedSettings, givenSettings, parseFallback, parseLowBalance } from './billing.ts';
import type { BudgetPeriod, CreateSubAccountInput } from './generated/graphql.ts';
import { centsToDollarInput } from './money.ts';
import { parseSettings, type SettingsForm } from './settings.ts';

// The sub-account forms' inputs (create and edit): the settings (settings.ts) plus the billing
// part — plan, fallback model, prepaid mode and, for a prepaid sub-account, its low-balance
// threshold. Text fields in, the API's input out, or an error per field — nothing is sent while
// any field is wrong.

export interface BillingForm {
  plan: string;
  fallback: string;
  prepaid: boolean;
  /** Dollars; only read while `prepaid` is on (the field is shown for prepaid only). */
  lowBalance: string;
}

export type BillingErrors = Partial<Record<'fallback' | 'lowBalance', string>>;

export interface BillingInput {
  plan?: string | null;
  fallbackModel?: string | null;
  prepaid?: boolean;
  lowBalanceThresholdCents?: number | null;
}

export type BillingResult =
  | { ok: true; input: BillingInput }
  | { ok: false; errors: BillingErrors };

export const emptyBilling = (): BillingForm => ({
  plan: '',
  fallback: '',
  prepaid: false,
  lowBalance: '',
});

/** The billing fields of a stored sub-account, as the edit form starts with them. */
export function billingOf(sa: {
  plan: { name: string } | null;
  fallbackModel: string | null;
  prepaid: boolean;
  lowBalanceThresholdCents: number | null;
}): BillingForm {
  return {
    plan: sa.plan?.name ?? '',
    fallback: sa.fallbackModel ?? '',
    prepaid: sa.prepaid,
    lowBalance: centsToDollarInput(sa.lowBalanceThresholdCents),
  };
}

function parseBilling(form: BillingForm) {
  const fallback = parseFallback(form.fallback);
  // A threshold means something only to a prepaid sub-account; a hidden field never blocks a save.
  const lowBalance = form.prepaid ? parseLowBalance(form.lowBalance) : null;
  const errors: BillingErrors = {};
  if (!fallback.ok) errors.fallback = fallback.error;
  if (lowBalance && !lowBalance.ok) errors.lowBalance = lowBalance.error;
  if (!fallback.ok || (lowBalance && !lowBalance.ok)) return { ok: false as const, errors };
  return {
    ok: true as const,
    fallbackModel: fallback.value,
    lowBalanceThresholdCents: lowBalance?.value ?? null,
  };
}

/** A create's billing fields: only what is given (an absent plan setting follows the plan). */
export function billingCreateInput(form: BillingForm): BillingResult {
  const parsed = parseBilling(form);
  if (!parsed.ok) return parsed;
  const input: BillingInput = {};
  if (form.plan) input.plan = form.plan;
  if (parsed.fallbackModel) input.fallbackModel = parsed.fallbackModel;
  if (form.prepaid) input.prepaid = true;
  if (form.prepaid && parsed.lowBalanceThresholdCents !== null)
    input.lowBalanceThresholdCents = parsed.lowBalanceThresholdCents;
  return { ok: true, input };
}

/**
 * An edit's billing fields: only what changed against `before` (the stored values). An emptied
 * threshold is sent as null (cleared: the default applies again).
 */
export function billingUpdateInput(before: BillingForm, after: BillingForm): BillingResult {
  const parsed = parseBilling(after);
  if (!parsed.ok) return parsed;
  const input: BillingInput = {};
  if (after.plan !== before.plan) input.plan = after.plan || null;
  if (after.fallback.trim() !== before.fallback) input.fallbackModel = parsed.fallbackModel;
  if (after.prepaid !== before.prepaid) input.prepaid = after.prepaid;
  if (after.prepaid) {
    // `before.lowBalance` mirrors the stored threshold (prepaid or not when it was set).
    const was = parseLowBalance(before.lowBalance);
    if (!was.ok || parsed.lowBalanceThresholdCents !== was.value)
      input.lowBalanceThresholdCents = parsed.lowBalanceThresholdCents;
  }
  return { ok: true, input };
}

export type FormErrors = Partial<Record<keyof SettingsForm, string>> & BillingErrors;

/** The API's input fields (ValidationError.field) as the sub-account forms name them. */
const FORM_FIELDS: Record<string, keyof FormErrors> = {
  name: 'name',
  spendCapCents: 'cap',
  rateLimitRpm: 'rpm',
  rateLimitRpd: 'rpd',
  rateLimitTpm: 'tpm',
  maxConcurrent: 'concurrency',
  allowedModels: 'models',
  defaultTag: 'tag',
  fallbackModel: 'fallback',
  lowBalanceThresholdCents: 'lowBalance',
};

/**
 * A refusal of the API as the form's field errors: the field it names (`allowedModels.1` is the
 * models field) marked with the sentence, so the operator sees where; null when it names no
 * field of the form (the alert line says it then).
 */
export function serverFieldErrors(
  result: { __typename: string; field?: string | null } | null | undefined,
  message: string | null,
): FormErrors | null {
  if (result?.__typename !== 'ValidationError' || !result.field || message === null) return null;
  const key = FORM_FIELDS[result.field.split('.')[0]!];
  return key === undefined ? null : { [key]: message };
}

type Built<T> = { ok: true; input: T } | { ok: false; errors: FormErrors };

/**
 * A create: settings left empty are not sent (on a plan they follow it). A prepaid sub-account
 * has no cap (its credits are) and budget period total (implied); `period` '' = the default.
 */
export function createInput(
  form: SettingsForm,
  billing: BillingForm,
  period: BudgetPeriod | '',
): Built<CreateSubAccountInput> {
  const parsed = parseSettings(form);
  const b = billingCreateInput(billing);
  if (!parsed.ok || !b.ok)
    return {
      ok: false,
      errors: { ...(parsed.ok ? {} : parsed.errors), ...(b.ok ? {} : b.errors) },
    };
  const input: CreateSubAccountInput = { ...givenSettings(parsed.input), name: parsed.input.name };
  if (billing.prepaid) delete input.spendCapCents;
  if (period && !billing.prepaid) input.budgetPeriod = period;
  return { ok: true, input: { ...input, ...b.input } };
}

/**
 * An edit: only what changed against the stored values (`base`, `billingBase`), so an untouched
 * setting of a sub-account on a plan keeps following the plan. Turning prepaid on drops the cap.
 */
export function updateInput(
  base: SettingsForm,
  form: SettingsForm,
  billingBase: BillingForm,
  billing: BillingForm,
): Built<Record<string, unknown>> {
  const parsed = parseSettings(form);
  const before = parseSettings(base);
  const b = billingUpdateInput(billingBase, billing);
  if (!parsed.ok || !b.ok)
    return {
      ok: false,
      errors: { ...(parsed.ok ? {} : parsed.errors), ...(b.ok ? {} : b.errors) },
    };
  const input: Record<string, unknown> = {
    ...(before.ok ? changedSettings(before.input, parsed.input) : parsed.input),
    ...b.input,
  };
  if (b.input.prepaid) delete input.spendCapCents;
  return { ok: true, input };
}

/**
 * An edit form after the stored values changed under it (saved, or a setting follows the plan
 * again): each field the reader has not touched (still equal to the old stored value) shows the new
 * stored value; a field being edited keeps what the reader typed.
 */
export function rebaseForm<F extends object>(oldBase: F, newBase: F, form: F): F {
  const out = { ...form };
  for (const k of Object.keys(newBase) as Array<keyof F>) {
    if (Object.is(form[k], oldBase[k])) out[k] = newBase[k];
  }
  return out;
}
