import { periodKey } from '@tollgate/policy';
import { redisAvailable, startPrivateRedis } from '@tollgate/testkit';
import { describe, expect, it } from 'vitest';
import { CHEAP, startHarness, subAccount, WS } from './harness.ts';
import { until } from './wait.ts';

/**
 * A settle that fails because Redis is away is retried: once Redis is back the request's spend is
 * on its counters (else, its reservation expired, the budget it spent would be handed out again).
 * A private Redis, stopped while the request runs and started again (empty) before the retries end.
 */
describe.runIf(redisAvailable())('settle retried across a Redis outage', () => {
  it('the spend of a request that finished while Redis was away reaches its counter when it is back', async () => {
    const redis = await startPrivateRedis();
    const h = await startHarness({
      subs: [subAccount('sa_s', { spendCapMicros: 1_000_000 })],
      redisUrl: redis.url,
      upstream: { delayMs: 600, promptTokens: 100, outputTokens: 20 },
    });
    const counter = {
      scope: 'sa:sa_s',
      capMicros: 1_000_000,
      periodKey: periodKey('monthly', Date.now()),
    };
    const spent = async () =>
      (await h.bus.limiter.spent(WS, [counter]).catch(() => []))[0]?.spentMicros;
    try {
      await until('the data plane ready on Redis', async () =>
        (await fetch(`${h.urls[0]}/readyz`)).status === 200 ? true : undefined,
      );
      const before = h.upstream.received.length;
      const running = h.client('sa_s').chat.completions.create({
        model: CHEAP,
        messages: [{ role: 'user', content: 'x' }],
        max_tokens: 20,
      });
      // Admitted (reserved on this Redis) and at the upstream: now Redis goes away.
      await until('the upstream holds the request', async () =>
        h.upstream.received.length > before ? true : undefined,
      );
      await redis.stop();
      // The answer reaches the client; its settle fails and is retried.
      const answer = await running;
      expect(answer.usage?.total_tokens).toBe(120);
      // Longer than the bus's command timeout (2 s): the settle fails rather than waits.
      await new Promise((r) => setTimeout(r, 2_600));
      await redis.restart();
      await until(
        'the settled spend on the counter',
        async () => ((await spent()) === 120 ? true : undefined),
        15_000,
      );
    } finally {
      await h.close().catch(() => undefined);
      await redis.stop();
    }
  });
});
