import { describe, expect, it } from 'vitest';
import { lowBalanceText, parseLowBalance } from '../src/billing.ts';
import { emptySettings } from '../src/settings.ts';
import {
  type BillingForm,
  billingCreateInput,
  billingOf,
  billingUpdateInput,
  createInput,
  emptyBilling,
  serverFieldErrors,
  updateInput,
} from '../src/sub-account-form.ts';

// The sub-account forms' inputs: the low-balance threshold of a prepaid sub-account, and the
// billing fields of create and edit.

const prepaid = (lowBalance: string): BillingForm => ({
  ...emptyBilling(),
  prepaid: true,
  lowBalance,
});

describe('low-balance threshold', () => {
  it('parses dollars into whole cents; empty is no threshold of its own', () => {
    expect(parseLowBalance('')).toEqual({ ok: true, value: null });
    expect(parseLowBalance('  ')).toEqual({ ok: true, value: null });
    expect(parseLowBalance('0')).toEqual({ ok: true, value: 0 });
    expect(parseLowBalance('0.15')).toEqual({ ok: true, value: 15 });
    expect(parseLowBalance('$1,234.5')).toEqual({ ok: true, value: 123_450 });
    expect(parseLowBalance('1000000')).toEqual({ ok: true, value: 100_000_000 });
    const err = (s: string) => {
      const r = parseLowBalance(s);
      return r.ok ? null : r.error;
    };
    expect(err('-1')).toContain('negative');
    expect(err('0.151')).toContain('whole cents');
    expect(err('0.000001')).toContain('whole cents');
    expect(err('1000000.01')).toContain('at most $1,000,000');
    expect(err('five')).toContain('dollar amount');
  });

  it('says where balance.low fires: its own threshold, or 10 % of the credits', () => {
    expect(lowBalanceText(15, 200_000)).toBe('below $0.15');
    expect(lowBalanceText(0)).toBe('below $0.00');
    expect(lowBalanceText(null)).toBe('below 10 % of the credits');
    // 20¢ of credits = 200,000 micro-USD → 20,000 micro-USD = 2¢.
    expect(lowBalanceText(null, 200_000)).toBe('below 10 % of the credits ($0.02)');
    // The API floors to the micro-USD: 10 % of 0.000019 $ is 0.000001 $.
    expect(lowBalanceText(null, 19)).toBe('below 10 % of the credits ($0.000001)');
  });
});

describe('billing fields of the sub-account forms', () => {
  it('starts the edit form from the stored sub-account', () => {
    expect(
      billingOf({
        plan: { name: 'pro' },
        fallbackModel: 'openai/gpt-4o-mini',
        prepaid: true,
        lowBalanceThresholdCents: 150,
      }),
    ).toEqual({ plan: 'pro', fallback: 'openai/gpt-4o-mini', prepaid: true, lowBalance: '1.50' });
    expect(
      billingOf({
        plan: null,
        fallbackModel: null,
        prepaid: false,
        lowBalanceThresholdCents: null,
      }),
    ).toEqual(emptyBilling());
  });

  it('creates with a threshold only for a prepaid sub-account that has one', () => {
    expect(billingCreateInput(prepaid('0.15'))).toEqual({
      ok: true,
      input: { prepaid: true, lowBalanceThresholdCents: 15 },
    });
    expect(billingCreateInput(prepaid(''))).toEqual({ ok: true, input: { prepaid: true } });
    // Not prepaid: the (hidden) field is neither read nor sent, even when it holds garbage.
    expect(billingCreateInput({ ...emptyBilling(), lowBalance: 'garbage' })).toEqual({
      ok: true,
      input: {},
    });
    expect(billingCreateInput(prepaid('-3'))).toEqual({
      ok: false,
      errors: { lowBalance: 'must not be negative' },
    });
  });

  it('updates the threshold only when it changed; emptied clears it', () => {
    const stored = prepaid('0.15');
    expect(billingUpdateInput(stored, prepaid('0.15'))).toEqual({ ok: true, input: {} });
    expect(billingUpdateInput(stored, prepaid('$0.15'))).toEqual({ ok: true, input: {} });
    expect(billingUpdateInput(stored, prepaid('0.25'))).toEqual({
      ok: true,
      input: { lowBalanceThresholdCents: 25 },
    });
    expect(billingUpdateInput(stored, prepaid(''))).toEqual({
      ok: true,
      input: { lowBalanceThresholdCents: null },
    });
    expect(billingUpdateInput(prepaid(''), prepaid('0'))).toEqual({
      ok: true,
      input: { lowBalanceThresholdCents: 0 },
    });
    expect(billingUpdateInput(stored, prepaid('0.155'))).toEqual({
      ok: false,
      errors: { lowBalance: 'whole cents only (at most 2 decimals)' },
    });
    // Turning prepaid on with a threshold sends both; turning it off leaves the threshold alone.
    expect(billingUpdateInput(emptyBilling(), prepaid('2'))).toEqual({
      ok: true,
      input: { prepaid: true, lowBalanceThresholdCents: 200 },
    });
    expect(billingUpdateInput(stored, { ...stored, prepaid: false, lowBalance: '' })).toEqual({
      ok: true,
      input: { prepaid: false },
    });
  });

  it('reports settings and billing errors together, and builds whole inputs', () => {
    const bad = createInput(emptySettings(), { ...prepaid('x'), fallback: 'a, b' }, '');
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(Object.keys(bad.errors).sort()).toEqual(['fallback', 'lowBalance', 'name']);
    // A prepaid create: no cap, no period (total is implied), the threshold in cents.
    const form = { ...emptySettings(), name: 'pp', cap: '5' };
    expect(createInput(form, prepaid('0.15'), 'monthly')).toEqual({
      ok: true,
      input: { name: 'pp', prepaid: true, lowBalanceThresholdCents: 15 },
    });
    expect(createInput(form, emptyBilling(), 'weekly')).toEqual({
      ok: true,
      input: { name: 'pp', spendCapCents: 500, budgetPeriod: 'weekly' },
    });
    // An edit of a prepaid sub-account that only sets its threshold sends only that.
    const base = { ...emptySettings(), name: 'pp', cap: '0.2' };
    expect(updateInput(base, base, prepaid(''), prepaid('0.15'))).toEqual({
      ok: true,
      input: { lowBalanceThresholdCents: 15 },
    });
    // Turning prepaid on drops the cap from the update: its credits become the cap.
    expect(
      updateInput(base, { ...base, cap: '9' }, emptyBilling(), {
        ...emptyBilling(),
        prepaid: true,
      }),
    ).toEqual({ ok: true, input: { prepaid: true } });
  });
});

describe('serverFieldErrors', () => {
  it("marks the form's field an API refusal names, list items included", () => {
    const refused = (field: string | null) => ({ __typename: 'ValidationError', field });
    expect(
      serverFieldErrors(refused('allowedModels.1'), 'Allowed models: x has no price.'),
    ).toEqual({ models: 'Allowed models: x has no price.' });
    expect(serverFieldErrors(refused('spendCapCents'), 'Spend cap must be …')).toEqual({
      cap: 'Spend cap must be …',
    });
    expect(serverFieldErrors(refused('fallbackModel'), 'no price')).toEqual({
      fallback: 'no price',
    });
    // No field of the form, no field at all, or not a validation error: the alert line says it.
    expect(serverFieldErrors(refused('plan'), 'unknown plan')).toBeNull();
    expect(serverFieldErrors(refused(null), 'bad')).toBeNull();
    expect(serverFieldErrors({ __typename: 'ConflictError' }, 'deleted')).toBeNull();
    expect(serverFieldErrors(undefined, null)).toBeNull();
  });
});
