import { describe, expect, it } from 'vitest';
import { formatUsd } from '../src/money.ts';
import {
  apiFieldErrors,
  parseWorkspaceForm,
  parseWorkspaceMarkup,
  type WorkspaceValues,
  workspaceCapText,
  workspaceFormOf,
  workspaceUpdateInput,
} from '../src/workspace-settings.ts';

const stored: WorkspaceValues = {
  spendCapCents: null,
  budgetPeriod: 'monthly',
  markupPercent: 0,
  byokWaivesMarkup: false,
};

describe('workspace settings form', () => {
  it('starts from the stored settings', () => {
    expect(workspaceFormOf(stored)).toEqual({
      cap: '',
      period: 'monthly',
      markup: '0',
      byokWaivesMarkup: false,
    });
    expect(
      workspaceFormOf({ ...stored, spendCapCents: 123_456.7, markupPercent: 12.5 }),
    ).toMatchObject({ cap: '1234.567', markup: '12.5' });
  });

  it('parses a markup: required, 0 to 1000 % (the API’s range), at most 2 decimals', () => {
    expect(parseWorkspaceMarkup('20')).toEqual({ ok: true, value: 20 });
    expect(parseWorkspaceMarkup(' 12.5 % ')).toEqual({ ok: true, value: 12.5 });
    expect(parseWorkspaceMarkup('0')).toEqual({ ok: true, value: 0 });
    expect(parseWorkspaceMarkup('1000')).toEqual({ ok: true, value: 1000 });
    expect(parseWorkspaceMarkup('1500')).toEqual({ ok: false, error: 'must be at most 1000 %' });
    expect(parseWorkspaceMarkup('')).toEqual({
      ok: false,
      error: 'enter a percentage (0 for no markup)',
    });
    expect(parseWorkspaceMarkup('-5')).toEqual({ ok: false, error: 'must not be negative' });
    expect(parseWorkspaceMarkup('12.345').ok).toBe(false);
    expect(parseWorkspaceMarkup('ten').ok).toBe(false);
  });

  it('refuses field by field and sends nothing while any field is wrong', () => {
    const r = parseWorkspaceForm({ ...workspaceFormOf(stored), cap: '-3', markup: 'x' });
    expect(r).toEqual({
      ok: false,
      errors: {
        cap: 'must not be negative',
        markup: 'a percentage like 20 or 12.5 (at most 2 decimals)',
      },
    });
    expect(workspaceUpdateInput(stored, { ...workspaceFormOf(stored), cap: '1.2345678' })).toEqual({
      ok: false,
      errors: { cap: 'at most 6 decimals (one micro-dollar)' },
    });
  });

  it('sends only what changed; dollars become exact cents', () => {
    const form = workspaceFormOf(stored);
    expect(workspaceUpdateInput(stored, form)).toEqual({ ok: true, input: {} });
    expect(
      workspaceUpdateInput(stored, { ...form, cap: '$1,000.25', markup: '15', period: 'weekly' }),
    ).toEqual({
      ok: true,
      input: { spendCapCents: 100_025, markupPercent: 15, budgetPeriod: 'weekly' },
    });
    expect(workspaceUpdateInput(stored, { ...form, cap: '0.000001' })).toEqual({
      ok: true,
      input: { spendCapCents: 0.0001 },
    });
    expect(workspaceUpdateInput(stored, { ...form, byokWaivesMarkup: true })).toEqual({
      ok: true,
      input: { byokWaivesMarkup: true },
    });
  });

  it('sends an emptied cap as null (removes it) and an unchanged one not at all', () => {
    const capped = { ...stored, spendCapCents: 50_000 };
    const form = workspaceFormOf(capped);
    expect(form.cap).toBe('500');
    expect(workspaceUpdateInput(capped, { ...form, cap: '500.00' })).toEqual({
      ok: true,
      input: {},
    });
    expect(workspaceUpdateInput(capped, { ...form, cap: '  ' })).toEqual({
      ok: true,
      input: { spendCapCents: null },
    });
  });

  it('puts the API’s ValidationError under the field it names, as a sentence naming it', () => {
    expect(apiFieldErrors('markupPercent', 'markupPercent must be at most 1000')).toEqual({
      markup: 'Markup must be at most 1000 %.',
    });
    expect(apiFieldErrors('spendCapCents', 'spendCapCents must not be negative')).toEqual({
      cap: 'Workspace cap must not be negative.',
    });
    expect(apiFieldErrors(null, 'refused')).toBeNull();
    expect(apiFieldErrors('somethingElse', 'refused')).toBeNull();
  });

  it('says the cap in one line', () => {
    expect(workspaceCapText(null, 'monthly', formatUsd)).toBe('no cap');
    expect(workspaceCapText(100_000, 'weekly', formatUsd)).toBe('$1,000.00 / weekly');
  });
});
