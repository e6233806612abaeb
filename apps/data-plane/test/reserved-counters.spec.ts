import { periodKey } from '@tollgate/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHEAP, type Harness, snapshot, startHarness, subAccount, WS } from './harness.ts';
import { until } from './wait.ts';

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

  it('a workspace cap or a tag budget set while a request runs gets its reservation too, and its spend', async () => {
    await h.publish(snapshot(3, subs).body); // workspace uncapped again, no tag budget
    const period = periodKey('monthly', Date.now());
    const watched = [
      { scope: 'sa:sa_r', capMicros: null, periodKey: period },
      { scope: 'ws', capMicros: 1_000_000, periodKey: period },
      { scope: 'tag:late', capMicros: 500_000, periodKey: period },
    ];
    const rows = async () =>
      (await h.bus.limiter.spent(WS, watched)).map((b) => [b.spentMicros, b.reservedMicros]);
    const before = await rows();
    const hits = h.upstream.hits();
    h.upstream.options.delayMs = 2_500;
    const pending = h
      .client('sa_r')
      .chat.completions.create(
        { model: CHEAP, messages: [{ role: 'user', content: 'x' }], max_tokens: 100 },
        { headers: { 'x-tollgate-tag': 'late' } },
      );
    try {
      await until('the request reached the upstream', async () =>
        h.upstream.hits() > hits ? true : undefined,
      );
    } finally {
      h.upstream.options.delayMs = 600;
    }
    const [sa, ws, tag] = await rows();
    const reserved = sa![1]!;
    expect(reserved).toBeGreaterThan(0);
    expect([ws![1], tag![1]]).toEqual([0, 0]); // nothing capped them at admission
    await h.publish(
      snapshot(4, subs, {
        workspaceCapMicros: 1_000_000,
        tagBudgets: [
          {
            id: 'bud_late',
            workspaceId: WS,
            tag: 'late',
            capMicros: 500_000,
            budgetPeriod: 'monthly',
          },
        ],
      }).body,
    );
    await until('the new caps hold its reservation', async () => {
      const [, w, t] = await rows();
      return w![1] === reserved && t![1] === reserved ? true : undefined;
    });
    const metrics = await (await fetch(`${h.urls[0]}/metrics`)).text();
    expect(metrics).toMatch(/^tollgate_dp_reservations_restored_total\{why="capped"\} 1$/m);
    await pending;
    await h.events();
    const after = await rows();
    // Settled everywhere: 22 µ$ more on each counter, nothing left reserved.
    expect(after.map(([spent, res], i) => [spent! - before[i]![0]!, res])).toEqual([
      [22, 0],
      [22, 0],
      [22, 0],
    ]);
  });
});
