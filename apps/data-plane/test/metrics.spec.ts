import { parseExposition } from '@tollgate/metrics';
import { redisAvailable, startPrivateRedis, waitUntil } from '@tollgate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHEAP, type Harness, startHarness, subAccount } from './harness.ts';

const chat = (
  h: Harness,
  sub: string,
  init: { body?: unknown; headers?: Record<string, string> } = {},
) =>
  fetch(`${h.urls[0]}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${h.keys[sub] ?? 'sk-tg-nope'}`,
      'content-type': 'application/json',
      ...init.headers,
    },
    body: JSON.stringify(
      init.body ?? { model: CHEAP, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 },
    ),
  });

async function scrape(url: string, token?: string) {
  const res = await fetch(`${url}/metrics`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parseExposition(await res.text());
}

describe('data plane /metrics after real traffic (in-process bus, fake upstream)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      subs: [
        subAccount('sa_ok'),
        subAccount('sa_rpm', { rateLimitRpm: 1 }),
        subAccount('sa_allow', { allowedModels: ['openai/only-this'] }),
        subAccount('sa_cap', { spendCapMicros: 0 }),
      ],
    });
  });
  afterAll(async () => {
    await h.close();
  });

  it('counts each request by status and reason, with latency, TTFT, retries and upstream errors', async () => {
    const url = h.urls[0]!;
    const before = await scrape(url);
    const req = (status: string, reason: string, m = before) =>
      m.value('tollgate_dp_requests_total', { endpoint: 'chat', status, reason });

    // 2 served (one streamed), 1 rate-limited, 1 model not allowed, 1 over the cap, 1 bad key.
    expect((await chat(h, 'sa_ok')).status).toBe(200);
    const stream = await chat(h, 'sa_ok', {
      body: { model: CHEAP, stream: true, messages: [{ role: 'user', content: 'hi' }] },
    });
    expect(stream.status).toBe(200);
    await stream.text();
    expect((await chat(h, 'sa_rpm')).status).toBe(200);
    expect((await chat(h, 'sa_rpm')).status).toBe(429);
    expect((await chat(h, 'sa_allow')).status).toBe(403);
    expect((await chat(h, 'sa_cap')).status).toBe(402);
    expect((await chat(h, 'nobody')).status).toBe(401);
    // An upstream failing three times: two retries, then 502.
    h.upstream.options.failFirst = { times: 3, status: 500 };
    expect((await chat(h, 'sa_ok')).status).toBe(502);
    h.upstream.options.failFirst = undefined;
    // A client that leaves a stream midway: its answer never completes, and is counted all the same.
    h.upstream.options.chunkDelayMs = 30;
    const ac = new AbortController();
    const left = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.keys.sa_ok}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: CHEAP,
        stream: true,
        max_tokens: 50,
        messages: [{ role: 'user', content: 'hi' }],
      }),
      signal: ac.signal,
    });
    expect(left.status).toBe(200);
    await left.body!.getReader().read();
    ac.abort();
    await waitUntil(
      'the abandoned stream counted',
      async () => req('200', 'incomplete', await scrape(url)) - req('200', 'incomplete') === 1,
    );
    h.upstream.options.chunkDelayMs = undefined;
    await h.planes[0]!.flushUsage();

    const after = await scrape(url);
    expect(req('200', 'ok', after) - req('200', 'ok')).toBe(3);
    expect(req('429', 'rate_limit', after) - req('429', 'rate_limit')).toBe(1);
    expect(req('403', 'model_not_allowed', after) - req('403', 'model_not_allowed')).toBe(1);
    expect(req('402', 'budget', after) - req('402', 'budget')).toBe(1);
    expect(req('401', 'auth', after) - req('401', 'auth')).toBe(1);
    expect(req('502', 'upstream_error', after) - req('502', 'upstream_error')).toBe(1);

    const count = (m: typeof after, name: string, labels = {}) => m.value(name, labels);
    const latencyCount = 'tollgate_dp_request_duration_seconds_count';
    expect(
      count(after, latencyCount, { endpoint: 'chat' }) -
        count(before, latencyCount, { endpoint: 'chat' }),
    ).toBe(9);
    // Each histogram's +Inf bucket equals its count, and buckets are cumulative.
    const buckets = after.samples.filter(
      (s) =>
        s.name === 'tollgate_dp_request_duration_seconds_bucket' && s.labels.endpoint === 'chat',
    );
    expect(buckets.at(-1)?.labels.le).toBe('+Inf');
    expect(buckets.at(-1)?.value).toBe(count(after, latencyCount, { endpoint: 'chat' }));
    for (let i = 1; i < buckets.length; i++)
      expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
    // TTFT: one per answer that started (the abandoned stream's too).
    expect(
      count(after, 'tollgate_dp_ttft_seconds_count') -
        count(before, 'tollgate_dp_ttft_seconds_count'),
    ).toBe(4);
    expect(
      count(after, 'tollgate_dp_upstream_retries_total') -
        count(before, 'tollgate_dp_upstream_retries_total'),
    ).toBe(2);
    expect(
      count(after, 'tollgate_dp_upstream_errors_total', { class: 'upstream_error' }) -
        count(before, 'tollgate_dp_upstream_errors_total', { class: 'upstream_error' }),
    ).toBe(1);
    // Everything settled: no reservation left open; every request with a key produced one event.
    expect(count(after, 'tollgate_dp_reservations_open')).toBe(0);
    const queued = 'tollgate_dp_usage_events_queued_total';
    const flushed = 'tollgate_dp_usage_events_flushed_total';
    expect(count(after, queued) - count(before, queued)).toBe(8);
    expect(count(after, flushed)).toBe(count(after, queued));
    expect(count(after, 'tollgate_dp_policy_revision')).toBe(1);
    expect(count(after, 'tollgate_dp_policy_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(after.types.get('tollgate_dp_request_duration_seconds')).toBe('histogram');
  });

  it('the reservation gauge counts requests in flight', async () => {
    h.upstream.options.delayMs = 400;
    const pending = chat(h, 'sa_ok');
    const until = Date.now() + 5_000;
    let open = 0;
    while (open === 0 && Date.now() < until) {
      open = (await scrape(h.urls[0]!)).value('tollgate_dp_reservations_open');
      if (open === 0) await new Promise((r) => setTimeout(r, 20));
    }
    expect(open).toBe(1);
    expect((await pending).status).toBe(200);
    h.upstream.options.delayMs = undefined;
    await h.planes[0]!.flushUsage();
    expect((await scrape(h.urls[0]!)).value('tollgate_dp_reservations_open')).toBe(0);
  });

  it('/healthz and /readyz answer with their checks', async () => {
    const health = await fetch(`${h.urls[0]}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${h.urls[0]}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      ready: true,
      policyRevision: 1,
      checks: { policy: { ok: true, detail: 'revision 1' } },
    });
  });
});

async function readyStatus(
  url: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe.runIf(redisAvailable())('data plane /readyz follows Redis', () => {
  it('turns 503 naming redis when Redis goes away, and 200 again when it is back', async () => {
    const redis = await startPrivateRedis();
    const h = await startHarness({ subs: [subAccount('sa_r')], redisUrl: redis.url });
    try {
      const url = h.urls[0]!;
      expect(await readyStatus(url)).toEqual({
        status: 200,
        body: {
          ready: true,
          policyRevision: 1,
          checks: { policy: { ok: true, detail: 'revision 1' }, redis: { ok: true } },
        },
      });
      await redis.stop();
      await waitUntil('readyz 503', async () => (await readyStatus(url)).status === 503);
      const down = await readyStatus(url);
      expect(down.body.ready).toBe(false);
      expect(down.body.checks).toEqual({
        policy: { ok: true, detail: 'revision 1' },
        redis: { ok: false, detail: 'unreachable' },
      });
      await redis.restart();
      await waitUntil('readyz 200', async () => (await readyStatus(url)).status === 200);
    } finally {
      await redis.stop();
      await h.close().catch(() => undefined);
    }
  });

  it('with fail-open it stays ready while Redis is away (reported), since it serves every request', async () => {
    const redis = await startPrivateRedis();
    const h = await startHarness({
      subs: [subAccount('sa_r')],
      redisUrl: redis.url,
      limiterDown: 'fail-open',
    });
    try {
      const url = h.urls[0]!;
      await redis.stop();
      await waitUntil('redis reported down', async () => {
        const { checks } = (await readyStatus(url)).body as { checks: { redis?: { ok: boolean } } };
        return checks.redis?.ok === false;
      });
      expect(await readyStatus(url)).toEqual({
        status: 200,
        body: {
          ready: true,
          policyRevision: 1,
          checks: {
            policy: { ok: true, detail: 'revision 1' },
            redis: { ok: false, detail: 'unreachable' },
          },
        },
      });
    } finally {
      await redis.stop();
      await h.close().catch(() => undefined);
    }
  });
});
