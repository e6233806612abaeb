import { createBus } from '@tollgate/bus';
import { encodeSnapshot } from '@tollgate/policy';
import { refusedPort } from '@tollgate/testkit';
import { decodeUsageBatch, type UsageEvent } from '@tollgate/usage';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataPlane, type DataPlane } from '../src/index.ts';
import { type FakeUpstream, startFakeUpstream } from './fake-upstream.ts';
import { CHEAP, snapshot, subAccount } from './harness.ts';

/** `bounded`: fail-open, settles retried long but at most one at a time. */
type Mode = 'closed' | 'open' | 'bounded';

describe('data plane while Redis is unreachable (TOLLGATE_REDIS_DOWN)', () => {
  let upstream: FakeUpstream;
  let local: ReturnType<typeof createBus>;
  let dead: ReturnType<typeof createBus>;
  const planes: Record<Mode, { plane: DataPlane; url: string }> = {} as never;
  let keys: Record<string, string>;
  const events: UsageEvent[] = [];

  beforeAll(async () => {
    upstream = await startFakeUpstream();
    // Policy and usage in process; the limiter on a real Redis client whose server is gone.
    local = createBus({ prefix: 'redisdown' });
    dead = createBus({
      redisUrl: `redis://127.0.0.1:${await refusedPort()}`,
      prefix: 'redisdown',
      commandTimeoutMs: 500,
    });
    const snap = snapshot(1, [
      subAccount('sa_capped', { spendCapMicros: 1_000_000 }),
      subAccount('sa_rpm', { rateLimitRpm: 100 }),
      subAccount('sa_free'),
    ]);
    keys = snap.keys;
    await local.policy.setLatest(encodeSnapshot(snap.body), snap.body.revision);
    for (const mode of ['closed', 'open', 'bounded'] as const) {
      const plane = createDataPlane({
        bus: { policy: local.policy, usage: local.usage, limiter: dead.limiter },
        upstreams: { openai: { baseUrl: upstream.url, apiKey: 'sk-platform-upstream' } },
        usageBatch: { flushMs: 5 },
        // Redis never comes back here: the settles of requests served unreserved give up quickly.
        ...(mode === 'bounded'
          ? { settleRetryMs: 60_000, maxSettlesRetrying: 1 }
          : { settleRetryMs: 300 }),
        ...(mode === 'closed' ? {} : { limiterDown: 'fail-open' as const }),
      });
      planes[mode] = { plane, url: `http://127.0.0.1:${await plane.start(0)}` };
    }
    await local.usage
      .createConsumer({
        group: 'test',
        consumer: 'c1',
        blockMs: 50,
        handler: async (entries) => {
          for (const e of entries) events.push(...decodeUsageBatch(e.data).events);
        },
      })
      .start();
  });
  afterAll(async () => {
    for (const p of Object.values(planes)) await p.plane.stop();
    await Promise.all([local?.close(), dead?.close(), upstream?.close()]);
  });

  const ask = (mode: Mode, sub: string) =>
    new OpenAI({
      apiKey: keys[sub]!,
      baseURL: `${planes[mode].url}/v1`,
      maxRetries: 0,
    }).chat.completions
      .create({ model: CHEAP, messages: [{ role: 'user', content: 'x' }] })
      .withResponse()
      .then(
        (r) => ({ status: r.response.status, id: r.request_id, code: null as string | null }),
        (e) => ({
          status: e.status as number,
          id: (e.headers?.get('x-request-id') as string | null) ?? null,
          code: (e.code as string | null) ?? null,
        }),
      );

  it('fail-closed (default): capped or rate-limited requests get 503 and never reach the upstream; unlimited ones are served', async () => {
    const before = upstream.hits();
    const capped = await ask('closed', 'sa_capped');
    const rpm = await ask('closed', 'sa_rpm');
    expect(capped).toMatchObject({ status: 503, code: 'limiter_unavailable' });
    expect(rpm).toMatchObject({ status: 503, code: 'limiter_unavailable' });
    expect(upstream.hits()).toBe(before);
    expect((await ask('closed', 'sa_free')).status).toBe(200);
    expect(upstream.hits()).toBe(before + 1);
  });

  it('fail-open: every request is served unreserved, and still billed in its usage record', async () => {
    const before = upstream.hits();
    const capped = await ask('open', 'sa_capped');
    const rpm = await ask('open', 'sa_rpm');
    expect([capped.status, rpm.status]).toEqual([200, 200]);
    expect(upstream.hits()).toBe(before + 2);
    await planes.open.plane.flushUsage();
    const until = Date.now() + 5_000;
    while (!events.some((e) => e.requestId === capped.id) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const record = events.find((e) => e.requestId === capped.id);
    expect(record).toMatchObject({ status: 'ok', subAccountId: 'sa_capped' });
    expect(record!.billedCostMicros).toBeGreaterThan(0);
  });

  it('settles retried at once are bounded: beyond the bound a failing settle is given up on at once', async () => {
    const first = await ask('bounded', 'sa_capped');
    const second = await ask('bounded', 'sa_capped');
    expect([first.status, second.status]).toEqual([200, 200]);
    // The first holds the one retry slot (for up to a minute); the second's record comes at once.
    const deadline = Date.now() + 5_000;
    // (Not flushUsage(): it waits for the requests still settling, the first one included.)
    while (!events.some((e) => e.requestId === second.id) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(events.find((e) => e.requestId === second.id)).toMatchObject({
      status: 'ok',
      billedCostMicros: expect.any(Number),
    });
    expect(events.some((e) => e.requestId === first.id)).toBe(false);
  });

  it('answers at once while Redis is away, not after the command timeout', async () => {
    // A limiter whose commands would wait 30 s in the offline queue before failing.
    const slow = createBus({
      redisUrl: `redis://127.0.0.1:${await refusedPort()}`,
      prefix: 'redisdown-slow',
      commandTimeoutMs: 30_000,
    });
    const plane = createDataPlane({
      bus: { policy: local.policy, usage: local.usage, limiter: slow.limiter },
      upstreams: { openai: { baseUrl: upstream.url, apiKey: 'sk-platform-upstream' } },
      usageBatch: { flushMs: 5 },
      settleRetryMs: 300,
    });
    const url = `http://127.0.0.1:${await plane.start(0)}`;
    try {
      const t0 = Date.now();
      const [free, capped] = await Promise.all(
        ['sa_free', 'sa_capped'].map((sub) =>
          fetch(`${url}/v1/chat/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${keys[sub]}`, 'content-type': 'application/json' },
            body: JSON.stringify({ model: CHEAP, messages: [{ role: 'user', content: 'x' }] }),
          }),
        ),
      );
      expect([free!.status, capped!.status]).toEqual([200, 503]);
      // Far below the 30 s a queued command waits (a generous bound: the machine may be busy).
      expect(Date.now() - t0).toBeLessThan(10_000);
    } finally {
      await plane.stop();
      await slow.close();
    }
  }, 60_000);
});
