import { periodKey } from '@tollgate/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHEAP, type Harness, snapshot, startHarness, subAccount, WS } from './harness.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const tiers: [string, string | undefined][] = [['in-process', undefined]];
if (process.env.TG_TIER_REDIS !== '0') tiers.push(['redis', REDIS_URL]);

/**
 * What a request in flight reserves on: the sub-account's counter always, capped budgets always, the
 * workspace's counter only when the workspace has a cap (it can refuse nothing otherwise) — and
 * every counter's spend is settled either way.
 */
describe.each(tiers)('counters a request reserves on (%s)', (_name, redisUrl) => {
  let h: Harness;
  const subs = [subAccount('sa_r')];
  beforeAll(async () => {
    h = await startHarness({ redisUrl, subs, upstream: { delayMs: 600 } });
  });
  afterAll(async () => {
    await h?.close();
  });
  const counters = (wsCap: number | null) => {
    const period = periodKey('monthly', Date.now());
    return [
      { scope: 'sa:sa_r', capMicros: null, periodKey: period },
      { scope: 'ws', capMicros: wsCap, periodKey: period },
    ];
  };
  const balances = async (wsCap: number | null) =>
    (await h.bus.limiter.spent(WS, counters(wsCap))).map((b) => [b.spentMicros, b.reservedMicros]);
  const inFlight = async (wsCap: number | null) => {
    const before = h.upstream.hits();
    const pending = h.client('sa_r').chat.completions.create({
      model: CHEAP,
      messages: [{ role: 'user', content: 'x' }],
      max_tokens: 100,
    });
    const deadline = Date.now() + 5_000;
    while (h.upstream.hits() === before && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    const during = await balances(wsCap);
    await pending;
    await h.events();
    return { during, after: await balances(wsCap) };
  };

  it('an uncapped workspace counter tracks spend without reservations; a capped one reserves', async () => {
    const first = await inFlight(null);
    // Reserved on the sub-account only; the workspace counter holds no reservation.
    expect(first.during[0]![1]).toBeGreaterThan(0);
    expect(first.during[1]![1]).toBe(0);
    // Settled on both: 22 µ$ (12 prompt + 10 output tokens at 1 µ$ each).
    expect(first.after).toEqual([
      [22, 0],
      [22, 0],
    ]);

    await h.publish(snapshot(2, subs, { workspaceCapMicros: 1_000_000 }).body);
    const second = await inFlight(1_000_000);
    expect(second.during[0]![1]).toBeGreaterThan(0);
    expect(second.during[1]![1]).toBe(second.during[0]![1]);
    expect(second.after).toEqual([
      [44, 0],
      [44, 0],
    ]);
  });
});
