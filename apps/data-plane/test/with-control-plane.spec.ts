import { randomBytes } from 'node:crypto';
import { type Bus, createBus } from '@tollgate/bus';
import type { TestDatabase } from '@tollgate/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CounterReconciler } from '../../control-plane/src/index.ts';
import { ROUTES } from '../../control-plane/src/rest/routes/index.ts';
import { subscribe } from '../../control-plane/test/events-harness.ts';
import { createDataPlane, type DataPlane } from '../src/index.ts';
import type { FakeUpstream } from './fake-upstream.ts';
import { type Stack, startStack } from './stack.ts';
import { deletePrefix, until } from './wait.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const skip = process.env.TG_TIER_REDIS === '0';
const ADMIN_KEY = `sk-tg-admin-${'E'.repeat(43)}`;
const MODEL = 'openai/test-model';
/** ≈30 worst cases (12 prompt tokens, estimated ~22, + max_tokens 100, at 1 µ$ per token). */
const CAP_MICROS = 3_660;

/**
 * Both planes over one PostgreSQL (PGlite here) and one real Redis, data plane with
 * `requireRebuiltCounters` as production should run it: the own-usage path through the data plane,
 * and "Redis flushed → counters rebuilt, cap still holds" (issue 3).
 */
describe.skipIf(skip)('data plane + control plane on real Redis', () => {
  const prefix = `dpcp-${randomBytes(6).toString('hex')}`;
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  let stack: Stack;
  let database: TestDatabase;
  let cpBus: Bus;
  let upstream: FakeUpstream;
  let dp: DataPlane;
  let reconciler: CounterReconciler;
  let cpUrl: string;
  let dpUrl: string;
  let workspaceId: string;

  const admin = (method: string, path: string, body?: unknown) => stack.admin(method, path, body);
  const chat = (key: string, tag?: string) =>
    fetch(`${dpUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        ...(tag === undefined ? {} : { 'x-tollgate-tag': tag }),
      },
      body: JSON.stringify({
        model: MODEL,
        messages: [{ role: 'user', content: 'x' }],
        max_tokens: 100,
      }),
    });
  /** A new capped sub-account, once the data plane holds it. */
  const newSubAccount = async (name: string, capMicros: number | null) => {
    const sa = (
      await admin('POST', '/v1/sub-accounts', {
        name,
        ...(capMicros === null ? {} : { spend_cap_cents: capMicros / 10_000 }),
      })
    ).body as { id: string; key: string };
    await until('the data plane to hold the new key', async () => {
      const res = await fetch(`${dpUrl}/v1/models`, {
        headers: { authorization: `Bearer ${sa.key}` },
      });
      return res.status === 200 ? true : undefined;
    });
    return sa;
  };
  /** Applies an admin change and waits until the data plane holds the revision it committed. */
  const change = async (method: string, path: string, body: unknown) => {
    const revision = dp.policyRevision();
    const res = await admin(method, path, body);
    expect(res.status).toBeLessThan(300);
    await until('the data plane to hold the change', async () =>
      dp.policyRevision() > revision ? true : undefined,
    );
    return res.body;
  };
  /** A burst far beyond what is left of a budget; answers how many were served. */
  const burst = async (key: string, n: number, tag?: string) => {
    const statuses = await Promise.all(
      Array.from({ length: n }, () => chat(key, tag).then((r) => r.status)),
    );
    // 503 = a Redis command timed out on a starved machine (failed closed, never overspends).
    expect(statuses.filter((s) => s !== 200 && s !== 402 && s !== 503)).toEqual([]);
    expect(statuses.filter((s) => s === 503).length).toBeLessThan(n / 10);
    expect(statuses.filter((s) => s === 402).length).toBeGreaterThan(0);
    return statuses.filter((s) => s === 200).length;
  };
  const books = async (subAccountId: string) => {
    const rows = await database.db.prisma.usageRecord.findMany({ where: { subAccountId } });
    return {
      records: rows.length,
      spent: rows.reduce((sum, r) => sum + Number(r.billedCostMicros), 0),
    };
  };
  const ingested = async (subAccountId: string, records: number) => {
    await dp.flushUsage();
    return until(`${records} usage records of ${subAccountId}`, async () => {
      const b = await books(subAccountId);
      return b.records >= records ? b : undefined;
    });
  };

  beforeAll(async () => {
    stack = await startStack({
      kind: 'pglite',
      redisUrl: REDIS_URL,
      prefix,
      adminKey: ADMIN_KEY,
      secretKey: Buffer.alloc(32, 3),
      outputTokens: 100,
      dataPlane: { usageBatch: { flushMs: 5 }, policyPollMs: 200 },
      // 1 µ$ per token in and out: costs are plain token counts.
      prices: { [MODEL]: 100 },
    });
    ({ database, cpBus, upstream, reconciler, cpUrl, workspaceId } = stack);
    dp = stack.planes[0]!;
    dpUrl = stack.planeUrls[0]!;
    // Start-up pass: the books are empty, the workspace's counters are marked rebuilt.
    expect(await reconciler.runOnce()).toEqual([workspaceId]);
  });

  afterAll(async () => {
    await stack?.close();
    redis.disconnect();
  });

  it('every route of the control plane answers through the data plane as it does directly', async () => {
    for (const route of ROUTES) {
      const path = route.path.replace(/:[A-Za-z]+/g, 'x_1');
      const call = (base: string) =>
        fetch(`${base}${path}`, {
          method: route.method,
          headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
          body: route.method === 'GET' || route.method === 'DELETE' ? undefined : '{}',
        });
      const through = await call(dpUrl);
      const direct = await call(cpUrl);
      const code = (res: Response) =>
        res.headers.get('content-type')?.includes('json')
          ? res.json().then((b: { error?: { code?: string } }) => b?.error?.code ?? null)
          : res.text().then(() => null);
      const [a, b] = [await code(through), await code(direct)];
      expect(a, `${route.method} ${route.path}`).not.toBe('unknown_url');
      expect([through.status, a], `${route.method} ${route.path}`).toEqual([direct.status, b]);
    }
  });

  it('an admin body over the limit answers 413 through the data plane as it does directly', async () => {
    const body = JSON.stringify({ name: 'a'.repeat(1_050_000) });
    const post = (base: string) =>
      fetch(`${base}/v1/sub-accounts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body,
      }).then(async (r) => ({ status: r.status, body: await r.json() }));
    const direct = await post(cpUrl);
    expect(direct.status).toBe(413);
    for (let i = 0; i < 3; i++) expect(await post(dpUrl)).toEqual(direct);
  });

  it('GraphQL and its subscriptions (graphql-ws) answer through the data plane too', async () => {
    const query = (base: string, key = ADMIN_KEY) =>
      fetch(`${base}/graphql`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ workspace { id name } }' }),
      }).then(async (r) => ({ status: r.status, body: await r.json() }));
    const [through, direct] = [await query(dpUrl), await query(cpUrl)];
    expect(through).toEqual(direct);
    expect(through.body.data.workspace.id).toBe(workspaceId);
    // Acknowledged only once the control plane accepted the key: the upgrade went through.
    const ws = `${dpUrl.replace('http:', 'ws:')}/graphql`;
    const sub = subscribe(ws, ADMIN_KEY, 'subscription { workspaceSpendUpdates { subAccountId } }');
    try {
      await sub.connected;
      expect(sub.errors).toEqual([]);
    } finally {
      await sub.close();
    }
    const refused = subscribe(
      ws,
      `sk-tg-admin-${'Z'.repeat(43)}`,
      'subscription { workspaceSpendUpdates { subAccountId } }',
    );
    try {
      await until('the bad key refused', async () =>
        refused.errors.length > 0 ? true : undefined,
      );
    } finally {
      await refused.close();
    }
  });

  it('GET /v1/usage with a sub-account key through the data plane answers its own usage', async () => {
    const mine = await newSubAccount('e2e-own', null);
    const other = await newSubAccount('e2e-other', null);
    for (const key of [mine.key, mine.key, other.key]) expect((await chat(key)).status).toBe(200);
    await ingested(mine.id, 2);
    await ingested(other.id, 1);
    const res = await fetch(`${dpUrl}/v1/usage?window=1d`, {
      headers: { authorization: `Bearer ${mine.key}` },
    });
    expect(res.status).toBe(200);
    // biome-ignore lint/suspicious/noExplicitAny: JSON answer
    const own = (await res.json()) as any;
    const adminView = (await admin('GET', `/v1/sub-accounts/${mine.id}/usage?window=1d`)).body;
    expect(own.summary).toEqual(adminView.summary);
    expect(own.by_model).toEqual(adminView.by_model);
    expect(own.summary.requests).toBe(2);
    expect(own.summary.cost_cents).toBe((await books(mine.id)).spent / 10_000);
    // An admin key on the own-usage path is refused, through the data plane too.
    const asAdmin = await fetch(`${dpUrl}/v1/usage`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(asAdmin.status).toBe(403);
  });

  it('GET /v1/usage carries the x-ratelimit-* headers of the calling sub-account, not counted', async () => {
    const sa = (
      await admin('POST', '/v1/sub-accounts', {
        name: 'e2e-own-limited',
        rate_limit_rpm: 5,
        rate_limit_tpm: 100_000,
      })
    ).body as { id: string; key: string };
    await until('the data plane to hold the new key', async () =>
      (await chat(sa.key)).status === 200 ? true : undefined,
    );
    expect((await chat(sa.key)).status).toBe(200);
    const own = () =>
      fetch(`${dpUrl}/v1/usage?window=1d`, { headers: { authorization: `Bearer ${sa.key}` } });
    const res = await own();
    expect(res.status).toBe(200);
    expect(res.headers.get('x-ratelimit-limit-requests')).toBe('5');
    expect(res.headers.get('x-ratelimit-remaining-requests')).toBe('3');
    expect(res.headers.get('x-ratelimit-reset-requests')).toMatch(/^(\d+m)?\d+s$/);
    expect(res.headers.get('x-ratelimit-limit-tokens')).toBe('100000');
    expect(Number(res.headers.get('x-ratelimit-remaining-tokens'))).toBeLessThan(100_000);
    // Reading its own usage does not spend a request of the limit.
    expect((await own()).headers.get('x-ratelimit-remaining-requests')).toBe('3');
    // A key that does not authenticate learns nothing of anyone's limits.
    const stranger = await fetch(`${dpUrl}/v1/usage`, {
      headers: { authorization: `Bearer sk-tg-${'Q'.repeat(43)}` },
    });
    expect(stranger.status).toBe(401);
    expect(stranger.headers.get('x-ratelimit-limit-requests')).toBeNull();
  });

  it('Redis flushed → capped requests fail closed, counters rebuilt from PostgreSQL, cap still holds', async () => {
    const sa = await newSubAccount('e2e-capped', CAP_MICROS);
    // Spend part of the cap, and let the control plane ingest it into the books.
    for (let i = 0; i < 15; i++) expect((await chat(sa.key)).status).toBe(200);
    const before = await ingested(sa.id, 15);
    expect(before.spent).toBeGreaterThan(CAP_MICROS / 3);
    expect(before.spent).toBeLessThan(CAP_MICROS);

    // Redis loses everything of this installation: counters, markers, usage stream, policy.
    await deletePrefix(redis, prefix);
    const hitsBefore = upstream.hits();
    const refused = await chat(sa.key);
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe(
      'limiter_unavailable',
    );
    expect(upstream.hits()).toBe(hitsBefore);

    // The reconciler notices the missing marker and rebuilds from the books.
    expect(await reconciler.runOnce()).toEqual([workspaceId]);
    expect(await reconciler.runOnce()).toEqual([]);
    const period = (
      await cpBus.limiter.spent(workspaceId, [
        { scope: `sa:${sa.id}`, capMicros: CAP_MICROS, periodKey: currentMonth() },
      ])
    )[0]!;
    expect(period.spentMicros).toBe(before.spent);

    // A burst far beyond the remaining budget: the books of the period stay within the cap.
    const statuses = await Promise.all(
      Array.from({ length: 150 }, () => chat(sa.key).then((r) => r.status)),
    );
    const ok = statuses.filter((s) => s === 200).length;
    // 503 = a Redis command timed out on a starved machine: the data plane failed closed, which
    // never overspends; anything else would be a bug.
    expect(statuses.filter((s) => s !== 200 && s !== 402 && s !== 503)).toEqual([]);
    expect(statuses.filter((s) => s === 503).length).toBeLessThan(statuses.length / 10);
    expect(ok).toBeGreaterThan(0);
    // Against an empty counter ~30 would have fit; only what remained of the cap did.
    expect(ok).toBeLessThan(25);
    expect(upstream.hits() - hitsBefore).toBe(ok);
    // All served and blocked requests of the burst reach the books (the usage stream was recreated).
    const after = await ingested(sa.id, 15 + 1 + 150);
    expect(after.spent).toBeGreaterThan(before.spent);
    expect(after.spent).toBeLessThanOrEqual(CAP_MICROS);
  });

  it('a tag budget created mid-period counts the tag’s spend so far: the books stay within its cap', async () => {
    // Every request of this uncapped sub-account carries the tag: its books are the tag's books.
    const sa = await newSubAccount('e2e-tag-late', null);
    const tag = `late-${randomBytes(3).toString('hex')}`;
    for (let i = 0; i < 15; i++) expect((await chat(sa.key, tag)).status).toBe(200);
    const before = await ingested(sa.id, 15);
    // Room for a handful of requests only (each worst case ≈122 µ$).
    const cap = Math.ceil((before.spent + 500) / 100) * 100;
    await change('POST', '/v1/budgets', { tag, cap_cents: cap / 10_000, period: 'monthly' });
    const counter = { scope: `tag:${tag}`, capMicros: cap, periodKey: currentMonth() };
    expect((await cpBus.limiter.spent(workspaceId, [counter]))[0]!.spentMicros).toBe(before.spent);
    // Against a counter started at zero ≈18 would fit (and overspend by ≈15 requests).
    const ok = await burst(sa.key, 60, tag);
    expect(ok).toBeLessThan(10);
    const after = await ingested(sa.id, 15 + 60);
    expect(after.spent).toBeGreaterThan(before.spent);
    expect(after.spent).toBeLessThanOrEqual(cap);
  });

  it('a budget period changed mid-period (monthly → daily) keeps today’s spend: cap still holds', async () => {
    const cap = 3_000;
    const sa = await newSubAccount('e2e-period-flip', cap);
    for (let i = 0; i < 12; i++) expect((await chat(sa.key)).status).toBe(200);
    const before = await ingested(sa.id, 12);
    expect(before.spent).toBeGreaterThan(cap / 3);
    await change('PATCH', `/v1/sub-accounts/${sa.id}`, { budget_period: 'daily' });
    const daily = { scope: `sa:${sa.id}`, capMicros: cap, periodKey: currentDay() };
    expect((await cpBus.limiter.spent(workspaceId, [daily]))[0]!.spentMicros).toBe(before.spent);
    // Against a daily counter started at zero ≈24 would fit.
    const ok = await burst(sa.key, 60);
    expect(ok).toBeLessThan(20);
    const after = await ingested(sa.id, 12 + 60);
    expect(after.spent).toBeLessThanOrEqual(cap);
  });

  it('prepaid: 300 concurrent requests over two data planes never overdraw the balance; a top-up unblocks', async () => {
    // A second data plane on the same Redis: the balance is shared, not per plane.
    const dp2Bus = createBus({ redisUrl: REDIS_URL, prefix, requireRebuiltCounters: true });
    const dp2 = createDataPlane({
      bus: dp2Bus,
      upstreams: { openai: { baseUrl: upstream.url, apiKey: 'sk-platform-upstream' } },
      controlPlaneUrl: cpUrl,
      usageBatch: { flushMs: 5 },
      policyPollMs: 200,
    });
    const dp2Url = `http://127.0.0.1:${await dp2.start(0)}`;
    try {
      const created = await admin('POST', '/v1/sub-accounts', {
        name: 'e2e-prepaid',
        prepaid: true,
      });
      expect(created.status).toBe(201);
      const sa = created.body as { id: string; key: string };
      const both = async (what: string, revision: number) =>
        until(what, async () =>
          dp.policyRevision() >= revision && dp2.policyRevision() >= revision ? true : undefined,
        );
      await both('both planes to hold the prepaid sub-account', dp.policyRevision());
      await until('the data planes to hold the new key', async () => {
        const res = await Promise.all(
          [dpUrl, dp2Url].map((u) =>
            fetch(`${u}/v1/models`, { headers: { authorization: `Bearer ${sa.key}` } }),
          ),
        );
        return res.every((r) => r.status === 200) ? true : undefined;
      });
      const chatOn = (url: string) =>
        fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${sa.key}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            model: MODEL,
            messages: [{ role: 'user', content: 'x' }],
            max_tokens: 100,
          }),
        });
      // No credits yet: refused before any upstream call, saying why.
      const hits0 = upstream.hits();
      const empty = await chatOn(dp2Url);
      expect(empty.status).toBe(402);
      const emptyBody = (await empty.json()) as { error: Record<string, unknown> };
      expect(emptyBody.error).toMatchObject({
        type: 'budget_exceeded',
        code: 'balance_exhausted',
        scope: 'sub_account',
        balance_cents: 0,
      });
      expect(upstream.hits()).toBe(hits0);

      // One cent = 10 000 µ$ ≈ 80 worst cases; 300 requests at once over both planes.
      const top = await admin('POST', `/v1/sub-accounts/${sa.id}/credits`, {
        amount_cents: 1,
        reference: 'first',
      });
      expect(top.status).toBe(201);
      await both('both planes to hold the top-up', dp.policyRevision() + 1);
      const answers = await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          chatOn(i % 2 ? dp2Url : dpUrl).then(async (r) => ({
            status: r.status,
            body: (await r.json()) as { error?: { code?: string } },
          })),
        ),
      );
      const statuses = answers.map((a) => a.status);
      expect(statuses.filter((s) => s !== 200 && s !== 402 && s !== 503)).toEqual([]);
      expect(statuses.filter((s) => s === 503).length).toBeLessThan(30);
      const ok = statuses.filter((s) => s === 200).length;
      const refused = answers.filter((a) => a.status === 402);
      expect(ok).toBeGreaterThan(20);
      expect(refused.length).toBeGreaterThan(100);
      expect(new Set(refused.map((a) => a.body.error?.code))).toEqual(
        new Set(['balance_exhausted']),
      );
      await dp2.flushUsage();
      const after = await ingested(sa.id, 1 + 300);
      // Settled spend never exceeds the credits: the balance never goes below zero.
      expect(after.spent).toBeGreaterThan(0);
      expect(after.spent).toBeLessThanOrEqual(10_000);
      const ledger = (await admin('GET', `/v1/sub-accounts/${sa.id}/ledger`)).body;
      expect(ledger.credits_micro_usd).toBe(10_000);
      expect(ledger.draws_micro_usd).toBe(after.spent);
      expect(ledger.balance_micro_usd).toBe(10_000 - after.spent);
      expect(ledger.balance_micro_usd).toBeGreaterThanOrEqual(0);

      // Drained: refused on both planes until a top-up, which unblocks both. What the burst left
      // (requests refused while others' worst cases were reserved, settled lower afterwards) is
      // used up one request at a time first — on a loaded host the burst spreads out and can leave
      // more than one worst case.
      let drain = 0;
      while (drain < 40 && (await chatOn(dpUrl)).status === 200) drain++;
      expect(drain).toBeLessThan(40);
      for (const url of [dpUrl, dp2Url]) expect((await chatOn(url)).status).toBe(402);
      const revision = dp.policyRevision();
      expect(
        (
          await admin('POST', `/v1/sub-accounts/${sa.id}/credits`, {
            amount_cents: 2,
            reference: 'second',
          })
        ).status,
      ).toBe(201);
      const committed = Date.now();
      await both('both planes to hold the second top-up', revision + 1);
      // A top-up is a policy change like a cap PATCH: on every data plane within 1 s.
      expect(Date.now() - committed).toBeLessThan(1_000);
      for (const url of [dpUrl, dp2Url]) expect((await chatOn(url)).status).toBe(200);

      // The month's export, through the data plane's admin forwarding, streams the same books.
      await dp.flushUsage();
      await dp2.flushUsage();
      const month = new Date().toISOString().slice(0, 7);
      const books = await ingested(sa.id, 1 + 300 + drain + 1 + 2 + 2);
      const res = await fetch(`${dp2Url}/v1/usage/export?month=${month}&format=jsonl`, {
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
      const lines = (await res.text())
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, number | string>)
        .filter((l) => l.sub_account_id === sa.id);
      expect(lines.reduce((n, l) => n + Number(l.requests), 0)).toBe(books.records);
      expect(lines.reduce((n, l) => n + Number(l.billed_cost_micro_usd), 0)).toBe(books.spent);
    } finally {
      await dp2.stop();
      await dp2Bus.close();
    }
  });
});

function currentDay() {
  return `d${new Date().toISOString().slice(0, 10)}`;
}

function currentMonth() {
  return `m${new Date().toISOString().slice(0, 7)}`;
}
