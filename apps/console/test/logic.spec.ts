import { describe, expect, it } from 'vitest';
import {
  capText,
  changedSettings,
  emptyPlanForm,
  exportFileName,
  exportLineCount,
  exportPath,
  firstLedgerPage,
  givenSettings,
  ledgerCursor,
  ledgerNext,
  ledgerPrevious,
  microsToCents,
  parseFallback,
  parseMarkup,
  parsePlanForm,
  parseReference,
  parseTopUpAmount,
  planFormOf,
  planSources,
} from '../src/billing.ts';
import { barLayout, fillDays, niceMax, shares } from '../src/chart.ts';
import { hasMore, listError, nodesOf } from '../src/connection.ts';
import { describeError, resultError } from '../src/errors.ts';
import {
  currentSpent,
  describeFeedItem,
  emptyLive,
  eventSummary,
  FEED_LIMIT,
  type LiveEvent,
  type LiveSpend,
  liveReducer,
} from '../src/live.ts';
import {
  centsToDollarInput,
  formatUsd,
  parseDollars,
  parseLimit,
  parseModelList,
  shiftMonth,
  spendBar,
} from '../src/money.ts';
import { href, parseRoute } from '../src/route.ts';
import { emptySettings, parseSettings, settingsOf } from '../src/settings.ts';

describe('money', () => {
  it('formats cents as dollars, keeping the digits of sub-cent amounts', () => {
    expect(formatUsd(0)).toBe('$0.00');
    expect(formatUsd(50_000)).toBe('$500.00');
    expect(formatUsd(123_456_789)).toBe('$1,234,567.89');
    expect(formatUsd(5.2)).toBe('$0.052');
    expect(formatUsd(1.2345)).toBe('$0.012345');
    expect(formatUsd(0.0001)).toBe('$0.000001');
    expect(formatUsd(10)).toBe('$0.10');
    expect(formatUsd(-250)).toBe('-$2.50');
    expect(formatUsd(null)).toBe('—');
    expect(formatUsd(Number.NaN)).toBe('—');
  });

  it('shows amounts of a dollar or more exactly too, never rounded up (audit E)', () => {
    // A cap of 1000.5¢ is $10.005, not "$10.01"; 100.3¢ is $1.003, not "$1.00".
    expect(formatUsd(1000.5)).toBe('$10.005');
    expect(formatUsd(100.3)).toBe('$1.003');
    expect(formatUsd(1.003)).toBe('$0.01003');
    // A micro-dollar above $1,000 (and above $10) is still shown, with thousands separators.
    expect(formatUsd(100_000.0001)).toBe('$1,000.000001');
    expect(formatUsd(1000.0001)).toBe('$10.000001');
    expect(formatUsd(123_456_789.1234)).toBe('$1,234,567.891234');
    expect(formatUsd(99.9999)).toBe('$0.999999');
    expect(formatUsd(199.9999)).toBe('$1.999999');
    expect(formatUsd(100)).toBe('$1.00');
    expect(formatUsd(150)).toBe('$1.50');
    expect(formatUsd(-1000.5)).toBe('-$10.005');
    expect(formatUsd(-0)).toBe('$0.00');
    expect(spendBar(8.5, 0, 100.3).label).toBe('$0.085 of $1.003 (8%)');
  });

  it('parses typed dollars exactly to the micro-dollar, or says what is wrong', () => {
    expect(parseDollars('12.34')).toEqual({ ok: true, value: 1234 });
    expect(parseDollars(' $1,000.5 ')).toEqual({ ok: true, value: 100_050 });
    expect(parseDollars('0.1')).toEqual({ ok: true, value: 10 });
    expect(parseDollars('0.000001')).toEqual({ ok: true, value: 0.0001 });
    expect(parseDollars('')).toEqual({ ok: true, value: null });
    expect(parseDollars('-5')).toEqual({ ok: false, error: 'must not be negative' });
    expect(parseDollars('1.0000001')).toEqual({
      ok: false,
      error: 'at most 6 decimals (one micro-dollar)',
    });
    expect(parseDollars('ten')).toMatchObject({ ok: false });
    expect(parseDollars('1e3')).toMatchObject({ ok: false });
    expect(parseDollars('9999999999')).toEqual({ ok: false, error: 'is too large' });
    // 0.1 + 0.2 typed as one amount is exact, not 0.30000000000000004.
    expect(parseDollars('0.3')).toEqual({ ok: true, value: 30 });
  });

  it('round-trips a cap through the edit form', () => {
    for (const cents of [0, 1, 10, 1234, 50_000, 5.2, 0.0001, 99_999.9999]) {
      const text = centsToDollarInput(cents);
      expect(parseDollars(text)).toEqual({ ok: true, value: cents });
    }
    expect(centsToDollarInput(50_000)).toBe('500');
    expect(centsToDollarInput(1050)).toBe('10.50');
    expect(centsToDollarInput(null)).toBe('');
  });

  it('parses limits and model lists', () => {
    expect(parseLimit('1,000')).toEqual({ ok: true, value: 1000 });
    expect(parseLimit('')).toEqual({ ok: true, value: null });
    expect(parseLimit('1.5')).toEqual({ ok: false, error: 'must be a whole number' });
    expect(parseLimit('-1')).toMatchObject({ ok: false });
    expect(parseLimit('3000000000')).toMatchObject({ ok: false });
    expect(parseModelList('openai/gpt-4o, anthropic/claude-sonnet-4\nopenai/gpt-4o')).toEqual({
      ok: true,
      value: ['openai/gpt-4o', 'anthropic/claude-sonnet-4'],
    });
    expect(parseModelList('')).toEqual({ ok: true, value: [] });
    expect(parseModelList('gpt-4o')).toEqual({
      ok: false,
      error: '"gpt-4o" is not a provider/model name',
    });
  });

  it('draws spend vs cap: shares, levels and the text readers get', () => {
    expect(spendBar(5.2, 0, 25)).toEqual({
      spent: expect.closeTo(0.208, 12),
      reserved: 0,
      percent: 20,
      level: 'ok',
      label: '$0.052 of $0.25 (20%)',
    });
    const warn = spendBar(85, 10, 100);
    expect(warn).toMatchObject({
      level: 'warning',
      percent: 85,
      label: '$0.85 of $1.00 (85%), $0.10 reserved',
    });
    expect(warn.spent! + warn.reserved!).toBeCloseTo(0.95, 10);
    // Over the cap: the bar is full (reserved squeezed to 0), the percent says how far over.
    expect(spendBar(120, 30, 100)).toMatchObject({
      spent: 1,
      reserved: 0,
      percent: 120,
      level: 'exhausted',
    });
    // Reserved never pushes the bar past the end.
    expect(spendBar(70, 80, 100)).toMatchObject({ spent: 0.7, reserved: expect.closeTo(0.3, 10) });
    expect(spendBar(3, 0, null)).toMatchObject({
      spent: null,
      level: 'uncapped',
      label: '$0.03 spent, no cap',
    });
    // A zero cap (prepaid without credits) refuses everything: exhausted, and the text says why.
    expect(spendBar(0, 0, 0)).toMatchObject({
      level: 'exhausted',
      spent: 1,
      percent: 100,
      label: '$0.00 of $0.00 (a zero cap: nothing can be spent)',
    });
    // Whole percents from integer micro-dollars: 29¢ of $1 is 29 %, 57¢ of $1 is 57 %.
    expect(spendBar(29, 0, 100).percent).toBe(29);
    expect(spendBar(57, 0, 100).percent).toBe(57);
    expect(spendBar(79.9999, 0, 100)).toMatchObject({ percent: 79, level: 'ok' });
    expect(spendBar(80, 0, 100)).toMatchObject({ percent: 80, level: 'warning' });
    expect(spendBar(1, 0, 0)).toMatchObject({ level: 'exhausted', spent: 1, percent: 100 });
  });

  it('moves between months across years', () => {
    expect(shiftMonth('2026-01', -1)).toBe('2025-12');
    expect(shiftMonth('2026-12', 1)).toBe('2027-01');
    expect(shiftMonth('2026-11', 0)).toBe('2026-11');
  });
});

describe('charts', () => {
  it('fills every day of the window, zero where there was no spend', () => {
    const days = fillDays(
      [
        { date: '2026-11-21', costCents: 5, requests: 1 },
        { date: '2026-11-23', costCents: 7, requests: 2 },
        { date: '2026-10-01', costCents: 99, requests: 9 },
      ],
      3,
      new Date('2026-11-23T13:00:00Z'),
    );
    expect(days).toEqual([
      { date: '2026-11-21', costCents: 5, requests: 1 },
      { date: '2026-11-22', costCents: 0, requests: 0 },
      { date: '2026-11-23', costCents: 7, requests: 2 },
    ]);
  });

  it('rounds the axis up to 1, 2, 2.5 or 5 × 10ⁿ', () => {
    expect(niceMax(0)).toBe(1);
    expect(niceMax(0.7)).toBe(1);
    expect(niceMax(20.8)).toBe(25);
    expect(niceMax(25)).toBe(25);
    expect(niceMax(31)).toBe(50);
    expect(niceMax(101)).toBe(200);
    expect(niceMax(Number.POSITIVE_INFINITY)).toBe(1);
  });

  it('lays bars out in equal slots, scaled to the max, never losing a tiny value', () => {
    const bars = barLayout([0, 50, 100, 0.0001], 400, 100, 100);
    expect(bars).toHaveLength(4);
    expect(bars[0]).toMatchObject({ height: 0, y: 100 });
    expect(bars[1]).toMatchObject({ height: 50, y: 50 });
    expect(bars[2]).toMatchObject({ height: 100, y: 0 });
    expect(bars[3]!.height).toBe(1);
    for (const [i, b] of bars.entries()) {
      expect(b.x).toBeGreaterThanOrEqual(i * 100);
      expect(b.x + b.width).toBeLessThanOrEqual((i + 1) * 100);
    }
    expect(barLayout([], 400, 100, 1)).toEqual([]);
  });

  it('ranks models by spend with shares of the largest', () => {
    expect(
      shares([
        { modelId: 'a', costCents: 1 },
        { modelId: 'b', costCents: 4 },
      ]).map((r) => [r.modelId, r.share]),
    ).toEqual([
      ['b', 1],
      ['a', 0.25],
    ]);
    expect(shares([{ modelId: 'a', costCents: 0 }])[0]!.share).toBe(0);
  });
});

const event = (over: Partial<LiveEvent> = {}): LiveEvent => ({
  id: 'evt_1',
  type: 'warning',
  eventType: 'sub_account.budget.warning',
  scope: 'sub_account',
  subAccountId: 'sa_1',
  tag: null,
  threshold: 0.8,
  capCents: 100,
  spentCents: 85,
  createdAt: '2026-11-23T10:00:00.000Z',
  ...over,
});
const spend = (over: Partial<LiveSpend> = {}): LiveSpend => ({
  subAccountId: 'sa_1',
  spentCents: 10,
  capCents: 100,
  period: '2026-11',
  at: '2026-11-23T10:00:00.000Z',
  ...over,
});

describe('live feed', () => {
  it('puts the newest first, ignores a repeated event, and keeps the latest spend', () => {
    let s = emptyLive();
    s = liveReducer(s, { kind: 'event', event: event() });
    s = liveReducer(s, { kind: 'event', event: event() });
    s = liveReducer(s, {
      kind: 'spend',
      spend: spend({ spentCents: 20, at: '2026-11-23T10:00:02.000Z' }),
    });
    // An update that arrives late (older `at`) is listed but does not win.
    s = liveReducer(s, {
      kind: 'spend',
      spend: spend({ spentCents: 15, at: '2026-11-23T10:00:01.000Z' }),
    });
    expect(s.counts).toEqual({ events: 1, spend: 2 });
    expect(s.feed.map((f) => f.kind)).toEqual(['spend', 'spend', 'event']);
    expect(s.spend.sa_1!.spentCents).toBe(20);
    // A new period resets: its first update wins even with a smaller number.
    s = liveReducer(s, {
      kind: 'spend',
      spend: spend({ spentCents: 1, period: '2026-12', at: '2026-12-01T00:00:01.000Z' }),
    });
    expect(s.spend.sa_1!.spentCents).toBe(1);
    expect(new Set(s.feed.map((f) => f.key)).size).toBe(s.feed.length);
  });

  it('keeps at most FEED_LIMIT items', () => {
    let s = emptyLive();
    for (let i = 0; i < FEED_LIMIT + 25; i++) {
      s = liveReducer(s, { kind: 'event', event: event({ id: `evt_${i}` }) });
    }
    expect(s.feed).toHaveLength(FEED_LIMIT);
    expect(s.feed[0]).toMatchObject({ kind: 'event', event: { id: `evt_${FEED_LIMIT + 24}` } });
    expect(s.counts.events).toBe(FEED_LIMIT + 25);
  });

  it('prefers live spend only when it is newer than the loaded page', () => {
    const loadedAt = Date.parse('2026-11-23T10:00:00.000Z');
    expect(currentSpent({ spentCents: 5, loadedAt }, undefined)).toBe(5);
    expect(
      currentSpent(
        { spentCents: 5, loadedAt },
        spend({ spentCents: 9, at: '2026-11-23T10:00:01.000Z' }),
      ),
    ).toBe(9);
    expect(
      currentSpent(
        { spentCents: 5, loadedAt },
        spend({ spentCents: 3, at: '2026-11-23T09:59:59.000Z' }),
      ),
    ).toBe(5);
  });

  it('says what happened, by name when the name is known', () => {
    const names = new Map([['sa_1', 'acme']]);
    expect(describeFeedItem({ kind: 'event', key: 'k', at: '', event: event() }, names)).toBe(
      'acme: crossed 80% of the cap — $0.85 of $1.00',
    );
    expect(
      describeFeedItem(
        {
          kind: 'event',
          key: 'k',
          at: '',
          event: event({
            type: 'exhausted',
            scope: 'tag',
            tag: 'eu',
            subAccountId: null,
            spentCents: 101,
          }),
        },
        names,
      ),
    ).toBe('tag eu: cap reached — $1.01 of $1.00');
    expect(
      describeFeedItem(
        { kind: 'spend', key: 'k', at: '', spend: spend({ subAccountId: 'sa_2', capCents: null }) },
        names,
      ),
    ).toBe('sa_2 spent $0.10 (no cap)');
  });
});

describe('routes', () => {
  it('parses hash routes and refuses odd ones', () => {
    expect(parseRoute('')).toEqual({ page: 'sub-accounts' });
    expect(parseRoute('#/')).toEqual({ page: 'sub-accounts' });
    expect(parseRoute('#/sub-accounts/sa_abc-1')).toEqual({ page: 'sub-account', id: 'sa_abc-1' });
    expect(parseRoute('#/webhooks/wh_1/')).toEqual({ page: 'webhook', id: 'wh_1' });
    expect(parseRoute('#/live')).toEqual({ page: 'live' });
    expect(parseRoute('#/settings')).toEqual({ page: 'settings' });
    expect(parseRoute('#/settings/x')).toMatchObject({ page: 'not-found' });
    expect(parseRoute('#/sub-accounts/<script>')).toMatchObject({ page: 'not-found' });
    expect(parseRoute('#/sub-accounts/a/b')).toMatchObject({ page: 'not-found' });
    expect(parseRoute('#/prices/x')).toMatchObject({ page: 'not-found' });
    expect(parseRoute('#/nope')).toMatchObject({ page: 'not-found' });
    for (const r of [
      { page: 'sub-account', id: 'sa_1' },
      { page: 'webhook', id: 'wh_1' },
      { page: 'tags' },
      { page: 'provider-keys' },
      { page: 'settings' },
    ] as const) {
      expect(parseRoute(href(r))).toEqual(r);
    }
  });
});

describe('sub-account settings form', () => {
  it('turns the fields into an API input', () => {
    const r = parseSettings({
      name: ' acme ',
      cap: '500',
      rpm: '300',
      rpd: '',
      tpm: '10,000',
      concurrency: '4',
      models: 'openai/gpt-4o-mini',
      tag: 'acme',
    });
    expect(r).toEqual({
      ok: true,
      input: {
        name: 'acme',
        spendCapCents: 50_000,
        rateLimitRpm: 300,
        rateLimitRpd: null,
        rateLimitTpm: 10_000,
        maxConcurrent: 4,
        allowedModels: ['openai/gpt-4o-mini'],
        defaultTag: 'acme',
      },
    });
  });

  it('reports every wrong field at once and sends nothing', () => {
    const r = parseSettings({
      ...emptySettings(),
      cap: '-3',
      rpm: '0',
      tpm: 'lots',
      models: 'gpt',
      tag: 'a b',
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(Object.keys(r.errors).sort()).toEqual(['cap', 'models', 'name', 'rpm', 'tag', 'tpm']);
    expect(r.errors.rpm).toContain('at least 1');
  });

  it('starts the edit form from the sub-account and saves it back unchanged', () => {
    const sa = {
      name: 'acme',
      spendCapCents: 1050,
      rateLimitRpm: 300,
      rateLimitRpd: null,
      rateLimitTpm: null,
      maxConcurrent: 2,
      allowedModels: ['openai/gpt-4o', 'anthropic/claude-sonnet-4'],
      defaultTag: null,
    };
    const form = settingsOf(sa);
    expect(form.cap).toBe('10.50');
    expect(parseSettings(form)).toEqual({ ok: true, input: sa });
  });
});

describe('errors', () => {
  it('says plainly whether the key, the network or the input is at fault', () => {
    expect(describeError(null)).toBeNull();
    expect(
      describeError({
        graphQLErrors: [{ message: 'invalid API key', extensions: { code: 'UNAUTHENTICATED' } }],
      }),
    ).toEqual({
      kind: 'auth',
      message: 'The admin key was refused: invalid API key. Sign in again with a valid admin key.',
    });
    expect(describeError({ networkError: { message: 'Failed to fetch' } })?.kind).toBe('network');
    expect(
      describeError({
        graphQLErrors: [{ message: 'first must be ≤ 200', extensions: { code: 'BAD_USER_INPUT' } }],
      }),
    ).toEqual({ kind: 'input', message: 'first must be ≤ 200' });
    expect(describeError({ graphQLErrors: [{ message: 'boom' }] })).toEqual({
      kind: 'server',
      message: 'boom',
    });
  });

  it('reads the typed error of a mutation result', () => {
    expect(resultError({ __typename: 'SubAccount' })).toBeNull();
    expect(
      resultError({ __typename: 'ValidationError', message: 'too big', field: 'spendCapCents' }),
    ).toBe('Spend cap: too big.');
    expect(
      resultError({
        __typename: 'ValidationError',
        message: 'spendCapCents must not be negative',
        field: 'spendCapCents',
      }),
    ).toBe('Spend cap must not be negative.');
    expect(resultError({ __typename: 'NotFoundError', message: 'no such sub-account' })).toBe(
      'no such sub-account',
    );
    expect(resultError(null)).toBeNull();
  });
});

describe('plans, prepaid balances and the billing export', () => {
  it('parses a top-up in dollars to whole cents, refusing anything else', () => {
    expect(parseTopUpAmount('50')).toEqual({ ok: true, value: 5000 });
    expect(parseTopUpAmount(' $1,234.56 ')).toEqual({ ok: true, value: 123_456 });
    expect(parseTopUpAmount('0.01')).toEqual({ ok: true, value: 1 });
    expect(parseTopUpAmount('1000000')).toEqual({ ok: true, value: 100_000_000 });
    expect(parseTopUpAmount('0.1').ok && parseTopUpAmount('0.2').ok).toBe(true);
    expect(parseTopUpAmount('0.29')).toEqual({ ok: true, value: 29 });
    const err = (s: string) => {
      const r = parseTopUpAmount(s);
      return r.ok ? null : r.error;
    };
    expect(err('')).toContain('enter an amount');
    expect(err('0')).toContain('at least $0.01');
    expect(err('0.005')).toContain('whole cents');
    expect(err('1000000.01')).toContain('at most $1,000,000');
    expect(err('-5')).toContain('negative');
    expect(err('ten')).toContain('dollar amount');
  });

  it('checks a top-up reference: printable ASCII, 1 to 200 characters', () => {
    expect(parseReference(' invoice-42 ')).toEqual({ ok: true, value: 'invoice-42' });
    expect(parseReference('').ok).toBe(false);
    expect(parseReference('x'.repeat(201)).ok).toBe(false);
    expect(parseReference('x'.repeat(200)).ok).toBe(true);
    expect(parseReference('facture-é').ok).toBe(false);
  });

  it('pages the ledger forward by cursor and back by the stack', () => {
    let p = firstLedgerPage();
    expect(ledgerCursor(p)).toBeNull();
    expect(ledgerPrevious(p)).toBe(p);
    p = ledgerNext(p, 'c1');
    p = ledgerNext(p, 'c2');
    expect(ledgerCursor(p)).toBe('c2');
    expect(p.cursors).toEqual([null, 'c1', 'c2']);
    // No next page: the pager stays where it is.
    expect(ledgerNext(p, null)).toBe(p);
    p = ledgerPrevious(p);
    expect(ledgerCursor(p)).toBe('c1');
    p = ledgerPrevious(ledgerPrevious(p));
    expect(p.cursors).toEqual([null]);
    expect(microsToCents(50_000_000)).toBe(5000);
    expect(microsToCents(-52_000)).toBe(-5.2);
  });

  it('names the export and counts its data lines', () => {
    expect(exportPath('2026-04', 'csv')).toBe('/v1/usage/export?month=2026-04&format=csv');
    expect(exportPath('2026-12', 'jsonl')).toBe('/v1/usage/export?month=2026-12&format=jsonl');
    expect(() => exportPath('2026-13', 'csv')).toThrow();
    expect(() => exportPath('2026-4', 'csv')).toThrow();
    expect(exportFileName('2026-04', 'csv')).toBe('tollgate-usage-2026-04.csv');
    expect(exportFileName('2026-04', 'jsonl')).toBe('tollgate-usage-2026-04.jsonl');
    expect(exportLineCount('month,sub_account_id\r\n2026-04,a\r\n2026-04,b\r\n', 'csv')).toBe(2);
    expect(exportLineCount('month,sub_account_id\n', 'csv')).toBe(0);
    expect(exportLineCount('', 'csv')).toBe(0);
    expect(exportLineCount('{"a":1}\n{"a":2}\n{"a":3}\n', 'jsonl')).toBe(3);
  });

  it('says which settings come from the plan, and which may follow it again', () => {
    const rows = planSources(['rate_limit_rpd', 'default_tag', 'budget_period'], false);
    expect(rows).toHaveLength(9);
    const by = Object.fromEntries(rows.map((r) => [r.api, r]));
    expect(by.rate_limit_rpd).toMatchObject({ source: 'plan', canInherit: false });
    expect(by.rate_limit_rpm).toMatchObject({
      label: 'Requests per minute',
      source: 'own',
      canInherit: true,
    });
    // A prepaid sub-account's cap and period are its credits', never the plan's.
    const prepaid = Object.fromEntries(planSources([], true).map((r) => [r.api, r]));
    expect(prepaid.spend_cap_cents?.canInherit).toBe(false);
    expect(prepaid.budget_period?.canInherit).toBe(false);
    expect(prepaid.fallback_model?.canInherit).toBe(true);
  });

  it('sends only changed settings on edit, and only given ones on create', () => {
    const before = { name: 'a', rateLimitRpm: 60, allowedModels: ['x/y'], defaultTag: null };
    expect(changedSettings(before, { ...before })).toEqual({});
    expect(changedSettings(before, { ...before, rateLimitRpm: 120, allowedModels: [] })).toEqual({
      rateLimitRpm: 120,
      allowedModels: [],
    });
    expect(changedSettings(before, { ...before, defaultTag: 'acme' as unknown as null })).toEqual({
      defaultTag: 'acme',
    });
    expect(
      givenSettings({ name: 'a', spendCapCents: null, rateLimitRpm: 5, allowedModels: [] }),
    ).toEqual({ name: 'a', rateLimitRpm: 5 });
    expect(parseFallback('')).toEqual({ ok: true, value: null });
    expect(parseFallback(' openai/gpt-4o-mini ')).toEqual({
      ok: true,
      value: 'openai/gpt-4o-mini',
    });
    expect(parseFallback('a/b, c/d').ok).toBe(false);
    expect(parseFallback('gpt').ok).toBe(false);
  });

  it('parses the plan form, markup and fallback included, and round-trips a plan', () => {
    const r = parsePlanForm({
      ...emptyPlanForm(),
      name: 'free',
      cap: '5',
      rpm: '60',
      models: 'openai/gpt-5.4-mini',
      markup: '12.5%',
      fallback: 'openai/gpt-5.4-mini',
      period: 'weekly',
    });
    expect(r).toEqual({
      ok: true,
      input: {
        name: 'free',
        spendCapCents: 500,
        budgetPeriod: 'weekly',
        rateLimitRpm: 60,
        rateLimitRpd: null,
        rateLimitTpm: null,
        maxConcurrent: null,
        allowedModels: ['openai/gpt-5.4-mini'],
        defaultTag: null,
        markupPercent: 12.5,
        fallbackModel: 'openai/gpt-5.4-mini',
      },
    });
    if (r.ok) expect(parsePlanForm(planFormOf(r.input))).toEqual(r);
    const bad = parsePlanForm({
      ...emptyPlanForm(),
      name: 'Free Tier',
      markup: '12.345',
      fallback: 'nope',
      rpm: 'x',
    });
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(Object.keys(bad.errors).sort()).toEqual(['fallback', 'markup', 'name', 'rpm']);
    expect(parseMarkup('')).toEqual({ ok: true, value: null });
    expect(parseMarkup('1001').ok).toBe(false);
    expect(capText(null, 'monthly', formatUsd)).toBe('no cap / monthly');
    expect(capText(500, 'total', formatUsd)).toBe('$5.00 / total');
  });

  it('says which limit refused a request, and how a request failed', () => {
    const event = (type: string, data: unknown) => ({
      type,
      threshold: null,
      spentCents: null,
      capCents: null,
      data,
    });
    expect(
      eventSummary(event('rate_limited', { limit: 'rpm', model: 'openai/gpt-5.4-mini' })),
    ).toBe('rate limited (requests per minute) on openai/gpt-5.4-mini');
    expect(eventSummary(event('rate_limited', {}))).toBe('rate limited');
    expect(eventSummary(event('rate_limited', { limit: 'tpm', limit_value: 5000 }))).toBe(
      'rate limited (5000 tokens per minute)',
    );
    expect(
      eventSummary(
        event('request_failed', {
          http_status: 502,
          error_class: 'upstream_error',
          provider_status: 503,
        }),
      ),
    ).toBe('a request failed (502 upstream_error — provider said 503)');
    expect(
      eventSummary(
        event('request_failed', {
          model: 'anthropic/claude-sonnet-4.6',
          http_status: 502,
          error_class: 'upstream_error',
        }),
      ),
    ).toBe('a request failed on anthropic/claude-sonnet-4.6 (502 upstream_error)');
    expect(eventSummary(event('request_failed', null))).toBe('a request failed');
  });

  it('summarises a balance_low event with its balance and threshold', () => {
    expect(
      eventSummary({
        type: 'balance_low',
        threshold: null,
        spentCents: 95,
        capCents: null,
        data: { balance_cents: 5, threshold_cents: 10, credits_cents: 100 },
      }),
    ).toBe('prepaid balance low — $0.05 left (below $0.10)');
    expect(
      eventSummary({ type: 'balance_low', threshold: null, spentCents: null, capCents: null }),
    ).toBe('prepaid balance low');
  });
});

describe('list answers (connections or typed errors)', () => {
  const page = {
    __typename: 'PlanConnection' as const,
    edges: [{ node: { name: 'a' } }, { node: { name: 'b' } }],
    pageInfo: { hasNextPage: true },
  };
  const refused = { __typename: 'ValidationError' as const, message: 'first must be ≤ 200' };

  it('reads the rows of a page, and none from an error or while loading', () => {
    expect(nodesOf(page).map((p) => p.name)).toEqual(['a', 'b']);
    expect(nodesOf<typeof page | typeof refused>(refused)).toEqual([]);
    expect(nodesOf<typeof page>(undefined)).toEqual([]);
  });

  it('says whether more rows follow and what a refused list said', () => {
    expect(hasMore(page)).toBe(true);
    expect(hasMore({ ...page, pageInfo: { hasNextPage: false } })).toBe(false);
    expect(hasMore(refused)).toBe(false);
    // The field named by the message itself is said as the console calls it.
    expect(listError(refused)).toBe('Page size must be ≤ 200.');
    expect(listError({ ...refused, message: 'first must be at most 200' })).toBe(
      'Page size must be at most 200.',
    );
    expect(listError(page)).toBeNull();
    expect(listError(undefined)).toBeNull();
  });
});
