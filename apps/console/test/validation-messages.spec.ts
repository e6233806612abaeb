import { describe, expect, it } from 'vitest';
import type { Caller, ServiceDeps } from '../../control-plane/src/services/context.ts';
import { topUp } from '../../control-plane/src/services/credits.ts';
import { createPlan } from '../../control-plane/src/services/plans.ts';
import { setPrice } from '../../control-plane/src/services/prices.ts';
import { createSubAccount } from '../../control-plane/src/services/sub-accounts.ts';
import { updateWorkspace } from '../../control-plane/src/services/workspaces.ts';
import { listError } from '../src/connection.ts';
import { resultError, validationMessage } from '../src/errors.ts';
import { parseModelList } from '../src/money.ts';
import { parsePriceForm } from '../src/prices.ts';
import { emptySettings, parseSettings } from '../src/settings.ts';
import { apiFieldErrors, parseWorkspaceMarkup } from '../src/workspace-settings.ts';

// The control plane's own ValidationErrors (its services refuse these inputs while parsing them,
// before any database work: no deps are needed), said by the console as sentences naming the field
// as its forms do, with the API's bounds in the field's unit.

const caller: Caller = { workspaceId: 'ws_validation_messages', actor: 'test' };
const noDeps = {} as ServiceDeps;

/** The ValidationError the control plane answers for this call, as the GraphQL union gives it. */
async function refusal(call: () => Promise<unknown>) {
  try {
    await call();
  } catch (err) {
    const e = err as Error & { field?: string | null };
    expect(e.name).toBe('ValidationError');
    return { __typename: 'ValidationError', message: e.message, field: e.field ?? null };
  }
  throw new Error('the control plane accepted the input');
}

const ws = (input: unknown) => refusal(() => updateWorkspace(noDeps, caller, input));
const sa = (input: unknown) =>
  refusal(() => createSubAccount(noDeps, caller, { name: 'x', ...(input as object) }));

describe('ValidationError messages from the control plane', () => {
  it('says an out-of-range markup as a sentence with the API’s limit', async () => {
    const out = await ws({ markupPercent: 1500 });
    // What the API says: the field and a plain predicate, the bound without its unit.
    expect(out.message).toBe('markupPercent must be at most 1000');
    expect(resultError(out)).toBe('Markup must be at most 1000 %.');
    expect(apiFieldErrors(out.field, out.message)).toEqual({
      markup: 'Markup must be at most 1000 %.',
    });
    expect(resultError(await ws({ markupPercent: -1 }))).toBe('Markup must not be negative.');
    expect(resultError(await ws({ markupPercent: 12.345 }))).toBe(
      'Markup may have at most 2 decimals.',
    );
    const cap = await ws({ spendCapCents: 1.00001 });
    expect(apiFieldErrors(cap.field, cap.message)).toEqual({
      cap: 'Workspace cap may have at most 6 decimals (one micro-dollar).',
    });
    expect(resultError(await ws({ budgetPeriod: 'yearly' }))).toBe(
      'Budget period must be one of monthly, daily, weekly, total.',
    );
  });

  it('names the sub-account form’s fields and bounds', async () => {
    expect(resultError(await refusal(() => createSubAccount(noDeps, caller, { name: ' ' })))).toBe(
      'Name must not be empty.',
    );
    expect(resultError(await sa({ name: 'n'.repeat(201) }))).toBe(
      'Name must be at most 200 characters long.',
    );
    expect(resultError(await sa({ rateLimitRpm: 2_000_000_000 }))).toBe(
      'Requests per minute must be at most 1,000,000,000.',
    );
    expect(resultError(await sa({ maxConcurrent: 0 }))).toBe(
      'Concurrent requests must be at least 1.',
    );
    expect(resultError(await sa({ rateLimitTpm: 1.5 }))).toBe(
      'Tokens per minute must be a whole number.',
    );
    expect(resultError(await sa({ defaultTag: 'a b' }))).toBe(
      'Default tag must be 1–64 characters of A-Z a-z 0-9 _ . : -.',
    );
    expect(resultError(await sa({ allowedModels: ['openai/gpt-4o', 'GPT'] }))).toBe(
      "Allowed models (item 2) must be named 'provider/model'.",
    );
    expect(resultError(await sa({ allowedModels: Array(501).fill('openai/gpt-4o') }))).toBe(
      'Allowed models must have at most 500 items.',
    );
    expect(resultError(await sa({ lowBalanceThresholdCents: 200_000_000 }))).toBe(
      'Low balance threshold must be at most $1,000,000.00.',
    );
    expect(resultError(await sa({ spendCapCents: -5 }))).toBe('Spend cap must not be negative.');
    // The largest amount the API takes, to the micro-dollar.
    expect(resultError(await sa({ spendCapCents: 1e30 }))).toBe(
      'Spend cap must be at most $9,007,199,254.740991.',
    );
    expect(resultError(await sa({ name: 'a\ud800' }))).toBe(
      'Name must be valid Unicode text (no unpaired surrogates such as \\ud800).',
    );
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = { a: deep };
    expect(resultError(await sa({ metadata: deep }))).toBe(
      'Metadata is nested deeper than 32 levels.',
    );
  });

  it('names the fields of top-ups, prices and plans', async () => {
    const credit = (input: unknown) => refusal(() => topUp(noDeps, caller, 'sa_x', input));
    expect(resultError(await credit({ amountCents: 0, reference: 'r' }))).toBe(
      'Amount must be positive.',
    );
    expect(resultError(await credit({ amountCents: 100_000_001, reference: 'r' }))).toBe(
      'Amount must be at most $1,000,000.00.',
    );
    expect(resultError(await credit({ amountCents: 1, reference: ' r' }))).toBe(
      'Reference must be printable ASCII, with no space at either end.',
    );
    const price = await refusal(() =>
      setPrice(noDeps, caller, { model: 'openai/x', inputPerMtokCents: -1, outputPerMtokCents: 1 }),
    );
    expect(resultError(price)).toBe('Input price must not be negative.');
    const missing = await refusal(() =>
      setPrice(noDeps, caller, { model: 'openai/x', inputPerMtokCents: 1 }),
    );
    expect(resultError(missing)).toBe('Output price is required.');
    const priceOf = (extra: Record<string, unknown>) =>
      refusal(() =>
        setPrice(noDeps, caller, {
          model: 'anthropic/x',
          inputPerMtokCents: 300,
          outputPerMtokCents: 1500,
          ...extra,
        }),
      );
    expect(resultError(await priceOf({ cachedInputPerMtokCents: -1 }))).toBe(
      'Cached input price must not be negative.',
    );
    expect(resultError(await priceOf({ cacheWritePerMtokCents: -1 }))).toBe(
      'Cache write price must not be negative.',
    );
    const plan = await refusal(() => createPlan(noDeps, caller, { name: 'Starter Tier' }));
    expect(resultError(plan)).toBe('Name must be 1–64 characters of a-z 0-9 _ -.');
    const markup = await refusal(() =>
      createPlan(noDeps, caller, { name: 'p', markupPercent: 2000 }),
    );
    expect(resultError(markup)).toBe('Markup must be at most 1000 %.');
  });

  it('never passes zod’s wording through, with or without the field', async () => {
    const outs = [
      await ws({ markupPercent: 1500 }),
      await sa({ rateLimitRpm: -1 }),
      await sa({ budgetPeriod: 'yearly' }),
      await sa({ allowedModels: 'openai/gpt-4o' }),
    ];
    for (const out of outs) {
      // The typed result of a mutation, and the same error of a list query (message only).
      for (const text of [resultError(out), listError({ ...out, field: undefined })]) {
        expect(text).not.toMatch(/Too big|Too small|Invalid|expected|received|[a-z][A-Z]/);
        expect(text).toMatch(/^[A-Z].*\.$/);
      }
    }
    expect(resultError(await sa({ allowedModels: 'openai/gpt-4o' }))).toBe(
      'Allowed models must be a list.',
    );
    expect(resultError(await ws({ colour: 'red' }))).toBe(
      'The API does not accept the field colour; reload the console and try again.',
    );
  });

  it('keeps the messages of checks it has no rule for, behind the field’s name', () => {
    expect(
      validationMessage(
        'spendCapCents',
        'a prepaid sub-account has no spend cap of its own: its balance is its credits',
      ),
    ).toBe(
      'Spend cap: a prepaid sub-account has no spend cap of its own: its balance is its credits.',
    );
    expect(
      validationMessage('allowedModels', "allowedModels: unknown model 'openai/x' (no price)"),
    ).toBe('Allowed models: openai/x has no price; set one on the Prices page first.');
    expect(
      resultError({ __typename: 'NotFoundError', message: "sub-account 'sa_1' not found" }),
    ).toBe("sub-account 'sa_1' not found");
  });

  it('refuses before sending what the API would refuse (its limits, read from its code)', () => {
    expect(parseWorkspaceMarkup('1000')).toEqual({ ok: true, value: 1000 });
    expect(parseWorkspaceMarkup('1500')).toEqual({ ok: false, error: 'must be at most 1000 %' });
    // limitField: 1 to 1,000,000,000.
    const form = { ...emptySettings(), name: 'x' };
    expect(parseSettings({ ...form, rpm: '1000000000' }).ok).toBe(true);
    expect(parseSettings({ ...form, rpm: '1000000001' })).toEqual({
      ok: false,
      errors: { rpm: 'must be at most 1,000,000,000' },
    });
    // At most 500 allowed models, each named as MODEL_PATTERN says (a lowercase provider).
    const many = Array.from({ length: 501 }, (_, i) => `openai/m-${i}`).join(',');
    expect(parseSettings({ ...form, models: many })).toEqual({
      ok: false,
      errors: { models: 'at most 500 models' },
    });
    expect(parseModelList('OpenAI/gpt-4o')).toEqual({
      ok: false,
      error: '"OpenAI/gpt-4o" is not a provider/model name',
    });
    const price = { model: 'OpenAI/gpt-4o', input: '1', output: '1', cached: '', cacheWrite: '' };
    expect(parsePriceForm(price)).toEqual({
      ok: false,
      errors: { model: 'must be provider/model' },
    });
  });
});
