import { openTestDatabase, type TestDatabase } from '@tollgate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EventPlane, startEventPlane, subscribe, usage, waitFor } from './events-harness.ts';
import { ADMIN_KEY, ROOT_KEY } from './harness.ts';

const BUDGET_EVENTS = `subscription ($id: ID) {
  budgetEvents(subAccountId: $id) { id type eventType scope subAccountId tag threshold capCents spentCents }
}`;
const SPEND = `subscription ($id: ID!) { spendUpdates(subAccountId: $id) { subAccountId spentCents capCents } }`;
const settle = () => new Promise((r) => setTimeout(r, 300));

describe('budget events over graphql-ws', () => {
  let t: TestDatabase;
  let cp: EventPlane;
  let otherKey: string;
  beforeAll(async () => {
    t = await openTestDatabase('pglite');
    cp = await startEventPlane({ prisma: t.db.prisma });
    const other = await cp.api('POST', '/v1/workspaces', { name: 'other' }, ROOT_KEY);
    otherKey = other.body.admin_key;
  }, 120_000);
  afterAll(async () => {
    await cp?.stop();
    await t?.cleanup();
  });

  it('sends warning then exhausted, once each, and live spend; another workspace hears nothing', async () => {
    const sa = (await cp.api('POST', '/v1/sub-accounts', { name: 'acme', spend_cap_cents: 100 }))
      .body;
    const mine = subscribe(cp.wsUrl, ADMIN_KEY, BUDGET_EVENTS, { id: sa.id });
    const spend = subscribe(cp.wsUrl, ADMIN_KEY, SPEND, { id: sa.id });
    const theirs = subscribe(cp.wsUrl, otherKey, BUDGET_EVENTS);
    await Promise.all([mine.connected, spend.connected, theirs.connected]);
    await settle();

    // $1 cap: 50 %, then 85 % (warning), then 105 % (exhausted), then more (nothing new).
    await cp.append([usage(cp.workspaceId, sa.id, { billedCostMicros: 500_000 })]);
    await waitFor(() => spend.received.length >= 1);
    expect(mine.received).toEqual([]);
    await cp.append([usage(cp.workspaceId, sa.id, { billedCostMicros: 350_000 })]);
    await waitFor(() => mine.received.length >= 1);
    await cp.append([usage(cp.workspaceId, sa.id, { billedCostMicros: 200_000 })]);
    await waitFor(() => mine.received.length >= 2);
    await cp.append([usage(cp.workspaceId, sa.id, { billedCostMicros: 10_000 })]);
    await waitFor(() => spend.received.length >= 4);
    await settle();

    const events = mine.received.map((r) => r.budgetEvents);
    expect(events.map((e) => e.type)).toEqual(['warning', 'exhausted']);
    expect(events[0]).toMatchObject({
      eventType: 'sub_account.budget.warning',
      scope: 'sub_account',
      subAccountId: sa.id,
      threshold: 0.8,
      capCents: 100,
      spentCents: 85,
    });
    expect(events[1]).toMatchObject({ eventType: 'sub_account.budget.exhausted', spentCents: 105 });
    expect(spend.received.map((r) => r.spendUpdates.spentCents)).toEqual([50, 85, 105, 106]);
    expect(theirs.received).toEqual([]);
    const stored = await t.db.prisma.budgetEvent.findMany({ where: { subAccountId: sa.id } });
    expect(stored.map((e) => e.type).sort()).toEqual(['created', 'exhausted', 'warning']);
    await Promise.all([mine.close(), spend.close(), theirs.close()]);
  });

  it('announces created, rate_limited (once a minute) and request_failed; replays add nothing', async () => {
    const all = subscribe(cp.wsUrl, ADMIN_KEY, BUDGET_EVENTS);
    const theirs = subscribe(cp.wsUrl, otherKey, BUDGET_EVENTS);
    await Promise.all([all.connected, theirs.connected]);
    await settle();
    const sa = (await cp.api('POST', '/v1/sub-accounts', { name: 'busy' })).body;
    await waitFor(() => all.received.length >= 1);
    // Every refusal here announces at most one `rate_limited`: a replay and a second refusal in
    // the same minute are deduplicated (see the next test for refusals across a minute boundary).
    const at = new Date().toISOString();
    const blocked = {
      status: 'blocked' as const,
      errorClass: 'rpm',
      httpStatus: 429,
      billedCostMicros: 0,
      startedAt: at,
      finishedAt: at,
    };
    const batch = [
      usage(cp.workspaceId, sa.id, blocked),
      usage(cp.workspaceId, sa.id, blocked),
      usage(cp.workspaceId, sa.id, {
        status: 'error',
        errorClass: 'upstream_error',
        httpStatus: 502,
      }),
      // A client that hung up: recorded, but not a failed request to announce.
      usage(cp.workspaceId, sa.id, {
        status: 'error',
        errorClass: 'client_disconnected',
        httpStatus: 499,
      }),
    ] as const;
    await cp.append([...batch]);
    await waitFor(() => all.received.length >= 3);
    await cp.append([...batch]); // a replay: deduplicated
    await cp.append([usage(cp.workspaceId, sa.id, blocked)]); // same minute: no second event
    await settle();
    await settle();
    expect(all.received.map((r) => r.budgetEvents.type)).toEqual([
      'created',
      'rate_limited',
      'request_failed',
    ]);
    expect(theirs.received).toEqual([]);
    await Promise.all([all.close(), theirs.close()]);
  });

  it('rate_limited is once a minute, not once a calendar minute: a boundary a few seconds apart announces once', async () => {
    const sa = (await cp.api('POST', '/v1/sub-accounts', { name: 'boundary' })).body;
    const spend = subscribe(cp.wsUrl, ADMIN_KEY, SPEND, { id: sa.id });
    await spend.connected;
    await settle();
    const boundary = Math.floor(Date.now() / 60_000) * 60_000;
    const blocked = (atMs: number) => {
      const at = new Date(atMs).toISOString();
      return usage(cp.workspaceId, sa.id, {
        status: 'blocked',
        errorClass: 'rpm',
        httpStatus: 429,
        billedCostMicros: 0,
        startedAt: at,
        finishedAt: at,
      });
    };
    const rateLimited = () =>
      t.db.prisma.budgetEvent.count({ where: { subAccountId: sa.id, type: 'rate_limited' } });
    // 3 s before and 3 s after a minute boundary, in two batches (ingested one after the other).
    await cp.append([blocked(boundary - 3_000)]);
    await waitFor(async () => (await rateLimited()) === 1);
    await waitFor(() => spend.received.length >= 1);
    await cp.append([blocked(boundary + 3_000)]);
    await waitFor(() => spend.received.length >= 2);
    await settle();
    expect(await rateLimited()).toBe(1);
    await spend.close();
  });

  it('covers tag budgets and the workspace cap; a budget that refused a request is exhausted', async () => {
    const all = subscribe(cp.wsUrl, ADMIN_KEY, BUDGET_EVENTS);
    await all.connected;
    await settle();
    expect(
      (await cp.api('POST', '/v1/budgets', { tag: 'team', monthly_cap_cents: 10 })).status,
    ).toBe(201);
    expect((await cp.api('PATCH', '/v1/workspace', { spend_cap_cents: 1_000 })).status).toBe(200);
    const sa = (await cp.api('POST', '/v1/sub-accounts', { name: 'tagged' })).body;
    // 9 of the tag's 10 cents: warning. Then a 402 from the tag budget: exhausted, below 100 %.
    await cp.append([usage(cp.workspaceId, sa.id, { tags: ['team'], billedCostMicros: 90_000 })]);
    await waitFor(() => all.received.length >= 2);
    await cp.append([
      usage(cp.workspaceId, sa.id, {
        tags: ['team'],
        status: 'blocked',
        errorClass: 'tag_budget_reached',
        httpStatus: 402,
        billedCostMicros: 0,
      }),
    ]);
    await waitFor(() => all.received.length >= 3);
    // The workspace (≈106 cents spent by the tests above) passes 80 % of its 1 000 cents.
    await cp.append([usage(cp.workspaceId, sa.id, { billedCostMicros: 7_000_000 })]);
    await waitFor(() => all.received.length >= 4);
    await settle();
    const got = all.received.map((r) => r.budgetEvents);
    expect(got.map((e) => `${e.eventType}:${e.tag ?? ''}`)).toEqual([
      'sub_account.created:',
      'tag.budget.warning:team',
      'tag.budget.exhausted:team',
      'workspace.budget.warning:',
    ]);
    expect(got[2]).toMatchObject({ scope: 'tag', capCents: 10, spentCents: 9 });
    await all.close();
  });

  /** A 402 of the sub-account's own cap, with nothing spent. */
  const capRefusal = (subAccountId: string) =>
    usage(cp.workspaceId, subAccountId, {
      status: 'blocked',
      errorClass: 'spend_cap_reached',
      blockedScope: 'sub_account',
      httpStatus: 402,
      inputTokens: 0,
      outputTokens: 0,
      providerCostMicros: 0,
      billedCostMicros: 0,
    });

  it('a budget that refused a request before anything was spent on it warns, then is exhausted', async () => {
    // A 1-cent cap refuses a request whose smallest useful answer costs more: nothing in the books.
    const sa = (await cp.api('POST', '/v1/sub-accounts', { name: 'tiny', spend_cap_cents: 1 }))
      .body;
    const mine = subscribe(cp.wsUrl, ADMIN_KEY, BUDGET_EVENTS, { id: sa.id });
    await mine.connected;
    await settle();
    await cp.append([capRefusal(sa.id)]);
    await waitFor(() => mine.received.length >= 2);
    await settle();
    const got = mine.received.map((r) => r.budgetEvents);
    // The 80 % warning it skipped comes first: a receiver of warnings alone hears of it too.
    expect(got.map((e) => e.eventType)).toEqual([
      'sub_account.budget.warning',
      'sub_account.budget.exhausted',
    ]);
    for (const e of got) {
      expect(e).toMatchObject({ subAccountId: sa.id, capCents: 1, spentCents: 0 });
    }
    await mine.close();
  });

  it('a zero cap (prepaid without credits) that refuses a request is exhausted too', async () => {
    const sa = (await cp.api('POST', '/v1/sub-accounts', { name: 'zero', spend_cap_cents: 0 }))
      .body;
    const mine = subscribe(cp.wsUrl, ADMIN_KEY, BUDGET_EVENTS, { id: sa.id });
    await mine.connected;
    await settle();
    await cp.append([capRefusal(sa.id)]);
    await waitFor(() => mine.received.some((r) => r.budgetEvents.type === 'exhausted'));
    await settle();
    const got = mine.received.map((r) => r.budgetEvents);
    expect(got.map((e) => e.eventType)).toEqual([
      'sub_account.budget.warning',
      'sub_account.budget.exhausted',
    ]);
    expect(got[1]).toMatchObject({ subAccountId: sa.id, capCents: 0, spentCents: 0 });
    await mine.close();
  });

  it('refuses a connection without a valid admin key, and another workspace’s sub-account', async () => {
    const anon = subscribe(cp.wsUrl, null, BUDGET_EVENTS);
    const bad = subscribe(cp.wsUrl, `sk-tg-admin-${'x'.repeat(43)}`, BUDGET_EVENTS);
    await waitFor(() => anon.errors.length > 0 && bad.errors.length > 0);
    expect((anon.errors[0] as { code?: number }).code).toBe(4403);
    expect((bad.errors[0] as { code?: number }).code).toBe(4403);
    const sa = (await cp.api('POST', '/v1/sub-accounts', { name: 'private' })).body;
    const snoop = subscribe(cp.wsUrl, otherKey, SPEND, { id: sa.id });
    await waitFor(() => snoop.received.length > 0 || snoop.errors.length > 0);
    const first = snoop.received[0] ?? snoop.errors[0];
    expect(JSON.stringify(first)).toContain('NOT_FOUND');
    await Promise.all([anon.close(), bad.close(), snoop.close()]);
  });
});
