import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCapBurst } from './cap-burst.ts';
import { CHEAP, type Harness, snapshot, startHarness, subAccount, WS } from './harness.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const skip = process.env.TG_TIER_REDIS === '0';

describe.skipIf(skip)('data plane: two replicas sharing a real Redis', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      redisUrl: REDIS_URL,
      planes: 2,
      subs: [
        subAccount('sa_cap', { spendCapMicros: 2_000 }),
        subAccount('sa_rpm', { rateLimitRpm: 3 }),
        subAccount('sa_x'),
      ],
      tagBudgets: [
        { id: 'bud_t', workspaceId: WS, tag: 'shared', capMicros: 500, budgetPeriod: 'monthly' },
      ],
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('cap guarantee across replicas: 200 concurrent requests, settled ≤ cap, blocked never forwarded', async () => {
    const r = await runCapBurst(h, { sub: 'sa_cap', requests: 200 });
    expect(r.ok).toBeGreaterThan(0);
    expect(r.refused).toBeGreaterThan(0);
    expect(r.upstreamHits).toBe(r.ok);
    const [balance] = await h.bus.limiter.spent(WS, [
      { scope: 'sa:sa_cap', capMicros: 2_000, periodKey: r.periodKey },
    ]);
    expect(balance!.spentMicros).toBeLessThanOrEqual(2_000);
    expect(balance!.reservedMicros).toBe(0);
    const events = (await h.events()).filter((e) => e.subAccountId === 'sa_cap');
    expect(events.length).toBe(200);
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

  it('a suspension reaches both replicas within 1 s', async () => {
    const { body } = snapshot(7, [
      subAccount('sa_cap', { spendCapMicros: 2_000 }),
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
