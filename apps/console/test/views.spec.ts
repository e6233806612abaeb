import { describe, expect, it } from 'vitest';
import { listPlaceholder, subAccountsEmptyText } from '../src/connection.ts';
import { eventDetail, eventSummary, type Reconnects, trackReconnects } from '../src/live.ts';
import { emptyPriceForm, parsePriceForm, priceProblems } from '../src/prices.ts';
import { settingsOf } from '../src/settings.ts';
import { rebaseForm } from '../src/sub-account-form.ts';

// What the console's views say and do: failed lists, filter wording, event labels, the reconnect
// banner, the prices form and the settings form after "follow the plan again".

const page = (n: number) => ({
  __typename: 'WebhookEndpointConnection',
  edges: Array.from({ length: n }, (_, i) => ({ node: { id: String(i) } })),
});
const texts = { what: 'webhook endpoints', empty: 'No webhook endpoints.' };

describe('what an empty list says', () => {
  it('tells a failed list from an empty one and from one still loading', () => {
    // The request failed (control plane down): no data at all.
    expect(listPlaceholder({ error: new Error('down') }, undefined, 0, texts)).toBe(
      'Could not load webhook endpoints (see the message above).',
    );
    // The list answered a typed error instead of a page.
    const refused = { __typename: 'ValidationError', message: 'first must be ≤ 200' };
    expect(listPlaceholder({}, refused, 0, texts)).toBe(
      'Could not load webhook endpoints (see the message above).',
    );
    expect(listPlaceholder({}, undefined, 0, texts)).toBe('Loading…');
    expect(listPlaceholder({}, page(0), 0, texts)).toBe('No webhook endpoints.');
    // Rows (even stale ones beside an error) are shown: nothing in their place.
    expect(listPlaceholder({}, page(2), 2, texts)).toBeNull();
    expect(listPlaceholder({ error: new Error('down') }, page(2), 2, texts)).toBeNull();
  });

  it('says a status filter matched nothing rather than "no sub-accounts yet"', () => {
    expect(subAccountsEmptyText('', '')).toBe('No sub-accounts yet.');
    expect(subAccountsEmptyText('', 'suspended')).toBe(
      'No sub-account matches the filter: none is suspended.',
    );
    expect(subAccountsEmptyText('acme', '')).toBe('No sub-account name contains “acme”.');
    expect(subAccountsEmptyText('acme', 'deleted')).toBe(
      'No deleted sub-account name contains “acme”.',
    );
  });
});

describe('budget event labels', () => {
  it('does not repeat the type beside its badge ("created created")', () => {
    const created = { type: 'created', threshold: null, spentCents: null, capCents: null };
    expect(eventDetail('created', eventSummary(created))).toBe('');
    const warning = { type: 'warning', threshold: 0.8, spentCents: 20.8, capCents: 25 };
    expect(eventDetail('warning', eventSummary(warning))).toBe(
      'crossed 80% of the cap — $0.208 of $0.25',
    );
  });
});

describe('the live connection coming back', () => {
  it('counts a reconnect only after the connection was lost', () => {
    const steps = ['connecting', 'connected', 'lost', 'connecting', 'lost', 'connected'] as const;
    const seen: Reconnects[] = [];
    let state: Reconnects = { lost: false, count: 0 };
    for (const s of steps) {
      state = trackReconnects(state, s);
      seen.push(state);
    }
    expect(seen.map((r) => r.count)).toEqual([0, 0, 0, 0, 0, 1]);
    expect(state).toEqual({ lost: false, count: 1 });
    // Connected again without a loss in between: no reload.
    expect(trackReconnects(state, 'connected')).toBe(state);
  });
});

describe('the prices form', () => {
  it('reports every wrong field at once', () => {
    const r = parsePriceForm({
      model: 'gpt-4o-mini',
      input: 'abc',
      output: '-1',
      cached: '',
      cacheWrite: '-3.75',
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toEqual({
      model: 'must be provider/model',
      input: 'must be a dollar amount like 25 or 12.50',
      output: 'must not be negative',
      cacheWrite: 'must not be negative',
    });
    expect(priceProblems(r.errors)).toBe(
      'Model must be provider/model. Input price must be a dollar amount like 25 or 12.50. ' +
        'Output price must not be negative. Cache write price must not be negative.',
    );
    // A wrong cache-write price alone stops the form too.
    const onlyCacheWrite = parsePriceForm({
      model: 'anthropic/claude-sonnet-4-5',
      input: '3',
      output: '15',
      cached: '',
      cacheWrite: 'lots',
    });
    expect(onlyCacheWrite).toEqual({
      ok: false,
      errors: { cacheWrite: 'must be a dollar amount like 25 or 12.50' },
    });
    const empty = parsePriceForm(emptyPriceForm());
    expect(empty.ok ? null : Object.keys(empty.errors)).toEqual(['model', 'input', 'output']);
  });

  it('sends an omitted cached-input or cache-write price as null (the server derives it)', () => {
    expect(
      parsePriceForm({
        model: 'openai/gpt-4o-mini',
        input: '0.15',
        output: '0.6',
        cached: '',
        cacheWrite: '',
      }),
    ).toEqual({
      ok: true,
      input: {
        model: 'openai/gpt-4o-mini',
        inputPerMtokCents: 15,
        outputPerMtokCents: 60,
        cachedInputPerMtokCents: null,
        cacheWritePerMtokCents: null,
      },
    });
  });

  it('sends a cache-write price in cents per Mtok', () => {
    expect(
      parsePriceForm({
        model: 'anthropic/claude-sonnet-4-5',
        input: '3',
        output: '15',
        cached: '0.30',
        cacheWrite: '3.75',
      }),
    ).toEqual({
      ok: true,
      input: {
        model: 'anthropic/claude-sonnet-4-5',
        inputPerMtokCents: 300,
        outputPerMtokCents: 1500,
        cachedInputPerMtokCents: 30,
        cacheWritePerMtokCents: 375,
      },
    });
  });
});

describe('the settings form after the stored settings change', () => {
  const stored = {
    name: 'acme',
    spendCapCents: 100,
    rateLimitRpm: 77,
    rateLimitRpd: null,
    rateLimitTpm: null,
    maxConcurrent: null,
    allowedModels: [],
    defaultTag: null,
  };
  it('shows what a setting follows again; keeps what the reader is typing', () => {
    const before = settingsOf(stored);
    // "Follow the plan again" for RPM: the plan's 60 is in force now.
    const after = settingsOf({ ...stored, rateLimitRpm: 60 });
    expect(rebaseForm(before, after, before).rpm).toBe('60');
    // A field being edited meanwhile keeps the typed text.
    const typing = { ...before, tag: 'new-tag' };
    expect(rebaseForm(before, after, typing)).toEqual({ ...after, tag: 'new-tag' });
  });
});
