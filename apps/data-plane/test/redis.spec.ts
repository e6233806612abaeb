import { periodKey } from '@tollgate/policy';
import { clearOfMinuteEdge } from '@tollgate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCapBurst } from './cap-burst.ts';
import { CHEAP, type Harness, snapshot, startHarness, subAccount, WS } from './harness.ts';
import { until } from './wait.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const skip = process.env.TG_TIER_REDIS === '0';
/** Fits ~30 worst cases (≈122 µ$ each: ~22 prompt tokens + max_tokens 100 at 1 µ$/token). */
const CAP = 3_660;

describe.skipIf(skip)('data plane: two replicas sharing a real Redis', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      redisUrl: REDIS_URL,
      planes: 2,
      subs: [
        subAccount('sa_cap', { spendCapMicros: CAP }),
        subAccount('sa_rpm', { rateLimitRpm: 3 }),
        subAccount('sa_x'),
        subAccount('sa_conc', { maxConcurrent: 2 }),
        subAccount('sa_tpm', { rateLimitTpm: 100 }),
        subAccount('sa_lost', { maxConcurrent: 1, spendCapMicros: CAP }),
      ],
      tagBudgets: [
        { id: 'bud_t', workspaceId: WS, tag: 'shared', capMicros: 500, budgetPeriod: 'monthly' },
      ],
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('cap guarantee across replicas: 500 concurrent requests, settled ≤ cap, blocked never forwarded', async () => {
    const r = await runCapBurst(h, { sub: 'sa_cap', requests: 500 });
    expect(r.ok).toBeGreaterThan(0);
    expect(r.refused).toBeGreaterThan(0);
    expect(r.upstreamHits).toBe(r.ok);
    const [balance] = await h.bus.limiter.spent(WS, [
      { scope: 'sa:sa_cap', capMicros: CAP, periodKey: r.periodKey },
    ]);
    expect(balance!.spentMicros).toBeLessThanOrEqual(CAP);
    expect(balance!.reservedMicros).toBe(0);
    const events = (await h.events()).filter((e) => e.subAccountId === 'sa_cap');
    expect(events.length).toBe(500);
    expect(events.reduce((sum, e) => sum + e.billedCostMicros, 0)).toBe(balance!.spentMicros);
  });

  it('tag budget across replicas', async () => {
    const r = await runCapBurst(h, { sub: 'sa_x', requests: 40, tag: 'shared' });
    expect(r.upstreamHits).toBe(r.ok);
    const [balance] = await h.bus.limiter.spent(WS, [
      { scope: 'tag:shared', capMicros: 500, periodKey: r.periodKey },
    ]);
    expect(balance!.spentMicros).toBeLessThanOrEqual(500);
  });

  it('RPM holds across replicas', async () => {
    await clearOfMinuteEdge();
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await h
        .client('sa_rpm', i % 2)
        .chat.completions.create({
          model: CHEAP,
          messages: [{ role: 'user', content: 'x' }],
          max_tokens: 1,
        })
        .then(() => 200)
        .catch((e) => e.status as number);
      statuses.push(res);
    }
    expect(statuses.filter((s) => s === 200).length).toBe(3);
    expect(statuses.filter((s) => s === 429).length).toBe(3);
  });

  it('max concurrent requests hold across replicas', async () => {
    h.upstream.options.delayMs = 300;
    try {
      const statuses = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          h
            .client('sa_conc', i % 2)
            .chat.completions.create({
              model: CHEAP,
              messages: [{ role: 'user', content: 'x' }],
              max_tokens: 1,
            })
            .then(() => 200)
            .catch((e) => (e.code === 'concurrency' ? 429 : e.status)),
        ),
      );
      expect(statuses.filter((s) => s === 200).length).toBe(2);
      expect(statuses.filter((s) => s === 429).length).toBe(4);
    } finally {
      h.upstream.options.delayMs = undefined;
    }
  });

  it('counters lost while a request runs: its concurrency slot and reservation come back on every replica once rebuilt', async () => {
    const counter = {
      scope: 'sa:sa_lost',
      capMicros: CAP,
      periodKey: periodKey('monthly', Date.now()),
    };
    const reservedNow = async () => (await h.bus.limiter.spent(WS, [counter]))[0]!.reservedMicros;
    expect(await h.bus.limiter.restore(WS, [], 'before-loss')).toBe(true);
    const hits = h.upstream.received.length;
    h.upstream.options.delayMs = 3_000;
    const slow = h.client('sa_lost', 0).chat.completions.create({
      model: CHEAP,
      messages: [{ role: 'user', content: 'x' }],
      max_tokens: 100,
    });
    try {
      await until('the slow request reached the upstream', async () =>
        h.upstream.received.length > hits ? true : undefined,
      );
    } finally {
      h.upstream.options.delayMs = undefined;
    }
    const admitted = await reservedNow();
    expect(admitted).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 700)); // a marker check sees the request in flight
    await h.loseCounters(WS);
    expect(await reservedNow()).toBe(0);
    // The control plane's rebuild (books: nothing spent yet this period).
    expect(await h.bus.limiter.restore(WS, [], 'after-loss')).toBe(true);
    await until('the reservation is back', async () =>
      (await reservedNow()) === admitted ? true : undefined,
    );
    const metrics = await (await fetch(`${h.urls[0]}/metrics`)).text();
    expect(metrics).toMatch(/^tollgate_dp_reservations_restored_total\{why="lost"\} 1$/m);
    // The slot is held again: a second request on the other replica is over the limit of 1.
    const second = await h
      .client('sa_lost', 1)
      .chat.completions.create({
        model: CHEAP,
        messages: [{ role: 'user', content: 'x' }],
        max_tokens: 1,
      })
      .then(() => 'ok')
      .catch((e) => String(e.code));
    expect(second).toBe('concurrency');
    await slow;
    const [after] = await h.bus.limiter.spent(WS, [counter]);
    expect(after!.reservedMicros).toBe(0);
    const billed = (await h.events())
      .filter((e) => e.subAccountId === 'sa_lost' && e.status === 'ok')
      .reduce((sum, e) => sum + e.billedCostMicros, 0);
    expect(billed).toBeGreaterThan(0);
    expect(after!.spentMicros).toBe(billed);
  });

  it('TPM holds across replicas', async () => {
    await clearOfMinuteEdge();
    const codes: string[] = [];
    for (let i = 0; i < 8; i++) {
      const code = await h
        .client('sa_tpm', i % 2)
        .chat.completions.create({
          model: CHEAP,
          messages: [{ role: 'user', content: 'x' }],
          max_tokens: 10,
        })
        .then(() => 'ok')
        .catch((e) => String(e.code));
      codes.push(code);
    }
    expect(codes[0]).toBe('ok');
    expect(codes).toContain('tpm');
  });

  it('a suspension reaches both replicas within 1 s', async () => {
    const { body } = snapshot(7, [
      subAccount('sa_cap', { spendCapMicros: CAP }),
      subAccount('sa_rpm', { rateLimitRpm: 3 }),
      subAccount('sa_x', { status: 'suspended' }),
    ]);
    const t0 = Date.now();
    await h.publish(body);
    expect(Date.now() - t0).toBeLessThan(1_000);
    for (const plane of [0, 1]) {
      const err = await h
        .client('sa_x', plane)
        .chat.completions.create({
          model: CHEAP,
          messages: [{ role: 'user', content: 'x' }],
          max_tokens: 1,
        })
        .catch((e) => e);
      expect(err.status).toBe(403);
    }
  });
});
