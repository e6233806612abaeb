import { periodKey } from '@tollgate/policy';
import { afterEach, describe, expect, it } from 'vitest';
import { CHEAP, type Harness, startHarness, subAccount, WS } from './harness.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const tiers: [string, string | undefined][] = [['in-process', undefined]];
if (process.env.TG_TIER_REDIS !== '0') tiers.push(['redis', REDIS_URL]);

/** 60 µ$: at 1 µ$ per token each answer here costs 22 (12 prompt + 10 output tokens). */
const CAP = 60;
const TTL_MS = 300;

/** A chat request of `sub` (max_tokens 100: its worst case exceeds CAP, so it is clamped to what is left). */
const asker = (h: Harness, sub: string) => (plane: number) =>
  fetch(`${h.urls[plane]}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${h.keys[sub]}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: CHEAP,
      messages: [{ role: 'user', content: 'x' }],
      max_tokens: 100,
    }),
  });

/**
 * SPEC §6: "the settled spend of a period never exceeds its cap". A request that outlives its
 * reservation (TTL) loses it to the next admission's purge; the budget it held goes to others. When
 * it settles, it may be charged only what is left under the cap.
 */
describe.each(tiers)('a request that outlived its reservation (%s)', (_name, redisUrl) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('is billed only what is left under the cap: settled spend stays within it', async () => {
    // Renewal off: the reservation lives exactly its TTL (as when the plane cannot renew it).
    h = await startHarness({
      redisUrl,
      planes: redisUrl ? 2 : 1,
      reservationTtlMs: TTL_MS,
      keepHolds: false,
      subs: [subAccount('sa_late', { spendCapMicros: CAP })],
    });
    const ask = asker(h, 'sa_late');

    // A: slow upstream answer, far beyond its reservation's TTL.
    // Long enough that the others below finish first even on a loaded machine.
    h.upstream.options.delayMs = 3_000;
    const slow = ask(0);
    const deadline = Date.now() + 5_000;
    while (h.upstream.hits() < 1 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    expect(h.upstream.hits()).toBe(1);
    h.upstream.options.delayMs = 0;
    await new Promise((r) => setTimeout(r, TTL_MS + 150));

    // Others, on the other plane when there are two: each purges A's expired reservation and
    // spends the budget, until the cap refuses.
    const statuses: number[] = [];
    for (let i = 0; i < 10 && !statuses.includes(402); i++) {
      const res = await ask(h.planes.length - 1);
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(2);
    expect(statuses.at(-1)).toBe(402);

    const slowRes = await slow;
    expect(slowRes.status).toBe(200);
    const slowId = slowRes.headers.get('x-request-id');
    await slowRes.arrayBuffer();

    const events = (await h.events()).filter((e) => e.status !== 'blocked');
    const a = events.find((e) => e.requestId === slowId)!;
    expect(a).toBeDefined();
    // Its cost was 22 µ$; without the bound the period would settle at 22 × served > CAP.
    expect(a.providerCostMicros).toBe(22);
    const others = events.filter((e) => e.requestId !== slowId);
    const othersBilled = others.reduce((s, e) => s + e.billedCostMicros, 0);
    expect(othersBilled + 22).toBeGreaterThan(CAP);
    expect(a.billedCostMicros).toBe(CAP - othersBilled);
    const [balance] = await h.bus.limiter.spent(WS, [
      { scope: 'sa:sa_late', capMicros: CAP, periodKey: periodKey('monthly', Date.now()) },
    ]);
    expect(balance).toMatchObject({ spentMicros: CAP, reservedMicros: 0 });
    const text = await (await fetch(`${h.urls[0]}/metrics`)).text();
    expect(text).toMatch(/^tollgate_dp_settles_bounded_total 1$/m);
  }, 30_000);

  it('keeps its reservation while it runs (renewed): others are refused, it is billed in full', async () => {
    // Renewed every third of it: a generous TTL keeps a loaded event loop from missing a renewal.
    const ttlMs = 1_500;
    h = await startHarness({
      redisUrl,
      planes: redisUrl ? 2 : 1,
      reservationTtlMs: ttlMs,
      subs: [subAccount('sa_long', { spendCapMicros: CAP })],
    });
    const ask = asker(h, 'sa_long');
    h.upstream.options.delayMs = 3 * ttlMs;
    const slow = ask(0);
    const deadline = Date.now() + 5_000;
    while (h.upstream.hits() < 1 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    h.upstream.options.delayMs = 0;
    await new Promise((r) => setTimeout(r, ttlMs + 300));
    // Past its TTL, the slow request (its worst case was clamped to the whole cap) still holds it.
    const during = await ask(h.planes.length - 1);
    expect(during.status).toBe(402);
    await during.arrayBuffer();
    const slowRes = await slow;
    expect(slowRes.status).toBe(200);
    const slowId = slowRes.headers.get('x-request-id');
    await slowRes.arrayBuffer();
    const a = await h.eventFor(slowId);
    expect(a).toMatchObject({ providerCostMicros: 22, billedCostMicros: 22 });
    const text = await (await fetch(`${h.urls[0]}/metrics`)).text();
    expect(text).toMatch(/^tollgate_dp_settles_bounded_total 0$/m);
    // Released at settle: the rest of the budget is usable again.
    const after = await ask(h.planes.length - 1);
    expect(after.status).toBe(200);
    await after.arrayBuffer();
  }, 30_000);
});
