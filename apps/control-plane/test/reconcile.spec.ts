import { type AdmitRequest, createMemoryLimiter } from '@tollgate/bus';
import {
  booksBalances,
  createCounterReconciler,
  startCounterReconciler,
  writeUsage,
} from '@tollgate/control-plane';
import { periodKey } from '@tollgate/policy';
import { usageEvent, waitUntil } from '@tollgate/testkit';
import type { UsageEvent } from '@tollgate/usage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, KINDS, skipKind, startHarness } from './harness.ts';

function event(workspaceId: string, subAccountId: string, over: Partial<UsageEvent>): UsageEvent {
  return usageEvent({
    workspaceId,
    subAccountId,
    inputTokens: 1,
    outputTokens: 1,
    latencyMs: 1,
    ...over,
  });
}

describe.each(KINDS)('counter reconciler (books → counters) on %s', (kind) => {
  let h: Harness;
  beforeAll(async () => {
    if (!skipKind(kind)) h = await startHarness(kind);
  });
  afterAll(async () => h?.close());

  it.skipIf(skipKind(kind))(
    'rebuilds exactly the counters the data plane uses, per budget period, from the books',
    async () => {
      const now = Date.now();
      const ws = h.workspaceId;
      await h.api('PATCH', '/v1/workspace', { spend_cap_cents: 100, budget_period: 'monthly' });
      const monthly = (
        await h.api('POST', '/v1/sub-accounts', { name: 'rec-m', spend_cap_cents: 10 })
      ).body;
      const daily = (
        await h.api('POST', '/v1/sub-accounts', {
          name: 'rec-d',
          spend_cap_cents: 10,
          budget_period: 'daily',
        })
      ).body;
      const quiet = (await h.api('POST', '/v1/sub-accounts', { name: 'rec-q' })).body;
      expect(
        (await h.api('POST', '/v1/budgets', { tag: 'team-a', cap_cents: 5, period: 'weekly' }))
          .status,
      ).toBe(201);
      const old = new Date(now - 40 * 86_400_000).toISOString();
      await writeUsage(h.prisma, [
        event(ws, monthly.id, { billedCostMicros: 1_000, tags: ['team-a'] }),
        event(ws, monthly.id, { billedCostMicros: 250, tags: ['untracked'] }),
        // Outside every current period but `total`: not counted.
        event(ws, monthly.id, { billedCostMicros: 99_000, startedAt: old, finishedAt: old }),
        event(ws, daily.id, { billedCostMicros: 40, tags: ['team-a'] }),
      ]);
      const balances = await booksBalances(h.prisma, ws, now);
      const byScope = Object.fromEntries(balances.map((b) => [b.counter.scope, b]));
      expect(Object.keys(byScope).sort()).toEqual(
        [`sa:${monthly.id}`, `sa:${daily.id}`, 'tag:team-a', 'ws'].sort(),
      );
      expect(byScope[`sa:${monthly.id}`]).toEqual({
        counter: {
          scope: `sa:${monthly.id}`,
          capMicros: 100_000,
          periodKey: periodKey('monthly', now),
        },
        spentMicros: 1_250,
      });
      expect(byScope[`sa:${daily.id}`]!.counter.periodKey).toBe(periodKey('daily', now));
      expect(byScope[`sa:${daily.id}`]!.spentMicros).toBe(40);
      expect(byScope['tag:team-a']).toEqual({
        counter: { scope: 'tag:team-a', capMicros: 50_000, periodKey: periodKey('weekly', now) },
        spentMicros: 1_040,
      });
      expect(byScope.ws!.spentMicros).toBe(1_290);
      expect(byScope[`sa:${quiet.id}`]).toBeUndefined();

      // A fresh (lost) in-process limiter that fails closed until rebuilt.
      const limiter = createMemoryLimiter({ requireRebuilt: true });
      const reconciler = createCounterReconciler({ prisma: h.prisma, limiter, now: () => now });
      const rebuilt = await reconciler.runOnce();
      expect(rebuilt).toContain(ws);
      expect(await reconciler.runOnce()).toEqual([]);
      const spent = await limiter.spent(
        ws,
        balances.map((b) => b.counter),
        now,
      );
      expect(spent.map((s) => s.spentMicros)).toEqual(balances.map((b) => b.spentMicros));
    },
  );

  it.skipIf(skipKind(kind))(
    'tops counters up to the books on its timer (spend they missed), never lowering one',
    async () => {
      const now = Date.now();
      const ws = h.workspaceId;
      const sa = (await h.api('POST', '/v1/sub-accounts', { name: 'top-up', spend_cap_cents: 10 }))
        .body;
      const counter = {
        scope: `sa:${sa.id}`,
        capMicros: 100_000,
        periodKey: periodKey('monthly', now),
      };
      const limiter = createMemoryLimiter({ requireRebuilt: true });
      const raised: string[] = [];
      const reconciler = createCounterReconciler({
        prisma: h.prisma,
        limiter,
        now: () => now,
        onRaised: (_ws, scope, _period, micros) => raised.push(`${scope}=${micros}`),
      });
      expect(await reconciler.runOnce()).toContain(ws);
      const spent = async () => (await limiter.spent(ws, [counter], now))[0]!.spentMicros;
      expect(await spent()).toBe(0);
      // A request's record reached the books, but its settle never reached the counter.
      await writeUsage(h.prisma, [event(ws, sa.id, { billedCostMicros: 700 })]);
      expect(await reconciler.topUpOnce()).toBeGreaterThanOrEqual(1);
      expect(await spent()).toBe(700);
      expect(raised).toContain(`sa:${sa.id}=700`);
      // The counter ahead of the books (a settle whose record is not ingested yet): left alone.
      const admitted = await limiter.admit({
        workspaceId: ws,
        subAccountId: sa.id,
        requestId: 'req_top_up_ahead',
        nowMs: now,
        rate: { rpm: null, rpd: null, tpm: null, maxConcurrent: null, estimatedTokens: 0 },
        spend: [counter],
        worstCaseMicros: 500,
        minMicros: 500,
        reservationTtlMs: 60_000,
      });
      expect(admitted.ok).toBe(true);
      await limiter.settle({
        workspaceId: ws,
        subAccountId: sa.id,
        requestId: 'req_top_up_ahead',
        spend: [counter],
        actualMicros: 300,
        actualTokens: 10,
        nowMs: now,
      });
      expect(await spent()).toBe(1_000);
      raised.length = 0;
      await reconciler.topUpOnce();
      expect(await spent()).toBe(1_000);
      expect(raised.filter((r) => r.startsWith(`sa:${sa.id}=`))).toEqual([]);
    },
  );

  it.skipIf(skipKind(kind))('tops up by itself on its timer', async () => {
    const ws = h.workspaceId;
    const sa = (await h.api('POST', '/v1/sub-accounts', { name: 'top-up-timer' })).body;
    const counter = {
      scope: `sa:${sa.id}`,
      capMicros: null,
      periodKey: periodKey('monthly', Date.now()),
    };
    const limiter = createMemoryLimiter({ requireRebuilt: true });
    const reconciler = await startCounterReconciler({
      prisma: h.prisma,
      limiter,
      checkEveryMs: 60_000,
      topUpEveryMs: 50,
    });
    try {
      await writeUsage(h.prisma, [event(ws, sa.id, { billedCostMicros: 321 })]);
      await waitUntil('the counter topped up', async () => {
        const [balance] = await limiter.spent(ws, [counter]);
        return balance?.spentMicros === 321;
      });
    } finally {
      await reconciler.stop();
    }
  });

  it.skipIf(skipKind(kind))(
    "rebuilds this minute's request and token windows (RPM, TPM) from the books",
    async () => {
      const ws = h.workspaceId;
      const now = Date.now();
      const at = new Date(now).toISOString();
      const lastMinute = new Date(Math.floor(now / 60_000) * 60_000 - 1_000).toISOString();
      const rpm = (await h.api('POST', '/v1/sub-accounts', { name: 'win-r', rate_limit_rpm: 3 }))
        .body;
      const tpm = (await h.api('POST', '/v1/sub-accounts', { name: 'win-t', rate_limit_tpm: 100 }))
        .body;
      await writeUsage(h.prisma, [
        // This minute: 3 admitted requests (one failed) — RPM 3 is used up.
        event(ws, rpm.id, { startedAt: at, finishedAt: at }),
        event(ws, rpm.id, { startedAt: at, finishedAt: at }),
        event(ws, rpm.id, { startedAt: at, finishedAt: at, status: 'error' }),
        // Refused and last minute's: not counted.
        event(ws, rpm.id, { startedAt: at, finishedAt: at, status: 'blocked' }),
        event(ws, rpm.id, { startedAt: lastMinute, finishedAt: lastMinute }),
        // 90 tokens this minute (cached and cache-write tokens count), 500 last minute.
        event(ws, tpm.id, {
          startedAt: at,
          finishedAt: at,
          inputTokens: 30,
          cachedInputTokens: 20,
          cacheWriteTokens: 10,
          outputTokens: 30,
        }),
        event(ws, tpm.id, {
          startedAt: lastMinute,
          finishedAt: lastMinute,
          inputTokens: 250,
          outputTokens: 250,
        }),
      ]);
      const limiter = createMemoryLimiter({ requireRebuilt: true });
      const reconciler = createCounterReconciler({ prisma: h.prisma, limiter, now: () => now });
      expect(await reconciler.runOnce()).toContain(ws);
      const admit = (sa: string, rate: Partial<AdmitRequest['rate']>) =>
        limiter.admit({
          workspaceId: ws,
          subAccountId: sa,
          requestId: `req_${Math.random().toString(36).slice(2)}`,
          nowMs: now,
          rate: {
            rpm: null,
            rpd: null,
            tpm: null,
            maxConcurrent: null,
            estimatedTokens: 0,
            ...rate,
          },
          spend: [{ scope: `sa:${sa}`, capMicros: null, periodKey: periodKey('monthly', now) }],
          worstCaseMicros: 1,
          minMicros: 1,
          reservationTtlMs: 30_000,
        });
      expect(await admit(rpm.id, { rpm: 3 })).toMatchObject({
        ok: false,
        kind: 'rate',
        limit: 'rpm',
      });
      expect(await admit(rpm.id, { rpm: 4 })).toMatchObject({ ok: true });
      expect(await admit(tpm.id, { tpm: 100, estimatedTokens: 11 })).toMatchObject({
        ok: false,
        kind: 'rate',
        limit: 'tpm',
      });
      expect(await admit(tpm.id, { tpm: 100, estimatedTokens: 10 })).toMatchObject({ ok: true });
    },
  );

  it.skipIf(skipKind(kind) || kind === 'pglite')(
    'rebuilds the rate windows of a workspace with more rate-limited sub-accounts than a statement takes ids',
    async () => {
      const ws = h.workspaceId;
      const now = Date.now();
      const at = new Date(now).toISOString();
      // 33 000 > PostgreSQL's 32 767 bind values: one id list per query failed every pass.
      const many = Array.from({ length: 33_000 }, (_, i) => ({
        id: `sa_many_${i}`,
        workspaceId: ws,
        name: `many-${i}`,
        rateLimitRpm: 2,
        rateLimitRpd: 1_000,
      }));
      await h.prisma.subAccount.createMany({ data: many });
      const last = many.at(-1)!.id;
      await writeUsage(h.prisma, [
        event(ws, last, { startedAt: at, finishedAt: at }),
        event(ws, last, { startedAt: at, finishedAt: at }),
      ]);
      const limiter = createMemoryLimiter({ requireRebuilt: true });
      const reconciler = createCounterReconciler({ prisma: h.prisma, limiter, now: () => now });
      expect(await reconciler.runOnce()).toContain(ws);
      const refused = await limiter.admit({
        workspaceId: ws,
        subAccountId: last,
        requestId: 'req_many_next',
        nowMs: now,
        rate: { rpm: 2, rpd: null, tpm: null, maxConcurrent: null, estimatedTokens: 0 },
        spend: [{ scope: `sa:${last}`, capMicros: null, periodKey: periodKey('monthly', now) }],
        worstCaseMicros: 1,
        minMicros: 1,
        reservationTtlMs: 30_000,
      });
      expect(refused).toMatchObject({ ok: false, kind: 'rate', limit: 'rpm' });
    },
    120_000,
  );
});
