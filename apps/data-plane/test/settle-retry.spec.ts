import { periodKey } from '@tollgate/policy';
import { redisAvailable, startPrivateRedis } from '@tollgate/testkit';
import { Redis } from 'ioredis';
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

  it('fail-open: a request served unreserved while Redis did not answer is charged to its counter when it answers again', async () => {
    const redis = await startPrivateRedis();
    const h = await startHarness({
      subs: [subAccount('sa_o', { spendCapMicros: 1_000_000 })],
      redisUrl: redis.url,
      limiterDown: 'fail-open',
      upstream: { promptTokens: 100, outputTokens: 20 },
    });
    const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    const counter = {
      scope: 'sa:sa_o',
      capMicros: 1_000_000,
      periodKey: periodKey('monthly', Date.now()),
    };
    const ask = () =>
      h.client('sa_o').chat.completions.create({
        model: CHEAP,
        messages: [{ role: 'user', content: 'x' }],
        max_tokens: 20,
      });
    try {
      await until('the data plane ready on Redis', async () =>
        (await fetch(`${h.urls[0]}/readyz`)).status === 200 ? true : undefined,
      );
      expect((await ask()).usage?.total_tokens).toBe(120);
      // Redis stops answering (its data kept, as in a network blip) for longer than the bus's
      // command timeout (2 s): the admission times out and the request is served unreserved.
      await admin.call('CLIENT', 'PAUSE', '3000', 'ALL');
      const blip = await ask().withResponse();
      expect(blip.data.usage?.total_tokens).toBe(120);
      const record = await h.eventFor(blip.response.headers.get('x-request-id'));
      expect(record).toMatchObject({ status: 'ok', billedCostMicros: 120 });
      // Both on the counter, nothing left reserved: the admission that ran in Redis after the
      // pause (its reply had timed out) was released by the settle, not left to its TTL.
      const [balance] = await h.bus.limiter.spent(WS, [counter]);
      expect(balance).toMatchObject({ spentMicros: 240, reservedMicros: 0 });
    } finally {
      admin.disconnect();
      await h.close().catch(() => undefined);
      await redis.stop();
    }
  }, 30_000);
});
