import { periodKey } from '@tollgate/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHEAP, type Harness, startHarness, subAccount, WS } from './harness.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const tiers: [string, string | undefined][] = [['in-process', undefined]];
if (process.env.TG_TIER_REDIS !== '0') tiers.push(['redis', REDIS_URL]);

/** What the provider reports for every request: a prompt far above what its text suggests (images,
 * a `previous_response_id` conversation). CHEAP costs 1 µ$ per token either way, no markup. */
const PROMPT_TOKENS = 5_000;
const OUTPUT_TOKENS = 10;
const COST = PROMPT_TOKENS + OUTPUT_TOKENS;

/**
 * A request that costs more than its reservation (the prompt is estimated from its text) is billed
 * what the provider reported — the books reconcile with the provider bill — unless a cap has no room
 * for the difference: then it is billed what was left under the cap, and the cap holds.
 */
describe.each(tiers)('billing above the reservation (%s)', (_name, redisUrl) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      redisUrl,
      subs: [
        subAccount('sa_free'),
        subAccount('sa_roomy', { spendCapMicros: 100_000 }),
        subAccount('sa_tight', { spendCapMicros: 1_000 }),
      ],
      upstream: { promptTokens: PROMPT_TOKENS, outputTokens: OUTPUT_TOKENS },
    });
  });
  afterAll(async () => h?.close());

  const call = async (sub: string) => {
    const r = await h
      .client(sub)
      .chat.completions.create({
        model: CHEAP,
        messages: [{ role: 'user', content: 'x' }],
        max_tokens: OUTPUT_TOKENS,
      })
      .withResponse();
    const event = await h.eventFor(r.response.headers.get('x-request-id'));
    const [balance] = await h.bus.limiter.spent(WS, [
      { scope: `sa:${sub}`, capMicros: null, periodKey: periodKey('monthly', Date.now()) },
    ]);
    return { event, balance: balance! };
  };

  it('no cap, or a cap with room: billed what the provider reported', async () => {
    for (const sub of ['sa_free', 'sa_roomy']) {
      const { event, balance } = await call(sub);
      expect(event.reservationMicros).toBeLessThan(COST / 10);
      expect(event).toMatchObject({
        status: 'ok',
        inputTokens: PROMPT_TOKENS,
        outputTokens: OUTPUT_TOKENS,
        providerCostMicros: COST,
        billedCostMicros: COST,
      });
      expect(event.cappedAtSettle).toBeUndefined();
      expect(balance).toMatchObject({ spentMicros: COST, reservedMicros: 0 });
    }
  });

  it('a cap without room for it: billed what was left under the cap, which holds', async () => {
    const { event, balance } = await call('sa_tight');
    expect(event.providerCostMicros).toBe(COST);
    expect(event.billedCostMicros).toBe(1_000);
    // The record says why it is billed below its cost: the cap took no more at settlement.
    expect(event.cappedAtSettle).toBe(true);
    expect(balance).toMatchObject({ spentMicros: 1_000, reservedMicros: 0 });
  });
});
