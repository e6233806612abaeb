import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { retryDelayMs } from '../src/forward/retry.ts';
import { CHEAP, type Harness, startHarness, subAccount } from './harness.ts';

/** Provider retries (issue 5): 429/5xx or a lost connection before anything reached the client
 * are retried up to twice within the one reservation; the usage record counts them. */
describe('data plane: provider retries', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      subs: [
        subAccount('sa_main'),
        subAccount('sa_cap'),
        subAccount('sa_rpm', { rateLimitRpm: 1 }),
      ],
    });
  });
  afterAll(async () => {
    await h.close();
  });
  afterEach(() => {
    h.upstream.options.failFirst = undefined;
    h.upstream.options.cutAfterChunks = undefined;
  });

  const ask = (max = 5) =>
    h
      .client('sa_main')
      .chat.completions.create({
        model: CHEAP,
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: max,
      })
      .withResponse();

  async function eventsOf(requestId: string | null) {
    const e = await h.eventFor(requestId);
    const all = (await h.events()).filter((x) => x.requestId === requestId);
    return { e, count: all.length };
  }

  it('503 twice then 200: the client gets 200, upstream hit 3 times, retries=2, billed once', async () => {
    h.upstream.options.failFirst = { times: 2, status: 503 };
    const before = h.upstream.received.length;
    const { data, response } = await ask(5);
    expect(response.status).toBe(200);
    expect(data.choices[0]!.message.content).toBe('w0 w1 w2 w3 w4 ');
    expect(h.upstream.received.length - before).toBe(3);
    const { e, count } = await eventsOf(response.headers.get('x-request-id'));
    expect(count).toBe(1);
    expect(e).toMatchObject({ status: 'ok', retries: 2, inputTokens: 12, outputTokens: 5 });
    expect(e.providerCostMicros).toBe(17); // one answer's tokens at 1 µ$ each
    expect(e.billedCostMicros).toBe(17);
  });

  it('retries stay within the one admission (a 1 rpm sub-account is not refused)', async () => {
    h.upstream.options.failFirst = { times: 2, status: 500 };
    const { response } = await h
      .client('sa_rpm')
      .chat.completions.create({ model: CHEAP, messages: [{ role: 'user', content: 'x' }] })
      .withResponse();
    expect(response.status).toBe(200);
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect((await h.eventFor(response.headers.get('x-request-id'))).retries).toBe(2);
  });

  it('a reset connection is retried; 429 with retry-after ≤ 2 s is waited for', async () => {
    h.upstream.options.failFirst = { times: 1, status: 'reset' };
    let before = h.upstream.received.length;
    const first = await ask(3);
    expect(first.response.status).toBe(200);
    expect(h.upstream.received.length - before).toBe(2);
    expect((await h.eventFor(first.response.headers.get('x-request-id'))).retries).toBe(1);

    h.upstream.options.failFirst = { times: 1, status: 429, retryAfter: '1' };
    before = h.upstream.received.length;
    const t0 = Date.now();
    const second = await ask(3);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(second.response.status).toBe(200);
    expect(h.upstream.received.length - before).toBe(2);
    expect((await h.eventFor(second.response.headers.get('x-request-id'))).retries).toBe(1);
  });

  it('a connection lost after the whole request was sent, every time: 502, each prompt billed (estimated)', async () => {
    const post = () =>
      fetch(`${h.urls[0]}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${h.keys.sa_main}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: CHEAP, messages: [{ role: 'user', content: 'x' }] }),
      });
    h.upstream.options.failFirst = { times: 3, status: 'reset' };
    const before = h.upstream.received.length;
    const res = await post();
    expect(res.status).toBe(502);
    expect(h.upstream.received.length - before).toBe(3);
    const e = await h.eventFor(res.headers.get('x-request-id'));
    expect(e).toMatchObject({ status: 'error', errorClass: 'upstream_error', estimated: true });

    // One lost attempt, then an answer: its 12 reported prompt tokens plus the lost prompt (P).
    h.upstream.options.failFirst = { times: 1, status: 'reset' };
    const once = await post();
    expect(once.status).toBe(200);
    await once.arrayBuffer();
    const e1 = await h.eventFor(once.headers.get('x-request-id'));
    expect(e1).toMatchObject({ status: 'ok', retries: 1, outputTokens: 10, estimated: true });
    const lostPrompt = e1.inputTokens - 12;
    expect(lostPrompt).toBeGreaterThan(0);
    expect(e1.providerCostMicros).toBe(e1.inputTokens + 10); // 1 µ$ per token
    // The provider had all three prompts: each is billed, not only the last.
    expect(e.inputTokens).toBe(3 * lostPrompt);
    expect(e.billedCostMicros).toBe(3 * lostPrompt);
  });

  it('never retried: 4xx other than 429, and a 429 asking to wait longer than 2 s', async () => {
    for (const failFirst of [
      { times: 1, status: 400 },
      { times: 1, status: 404 },
      { times: 1, status: 429, retryAfter: '30' },
    ]) {
      h.upstream.options.failFirst = failFirst;
      const before = h.upstream.received.length;
      const res = await fetch(`${h.urls[0]}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${h.keys.sa_main}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: CHEAP, messages: [{ role: 'user', content: 'x' }] }),
      });
      expect(res.status).toBe(failFirst.status);
      // The provider's Retry-After reaches the client with its 429.
      expect(res.headers.get('retry-after')).toBe(failFirst.retryAfter ?? null);
      expect(h.upstream.received.length - before).toBe(1);
      const e = await h.eventFor(res.headers.get('x-request-id'));
      expect(e).toMatchObject({ retries: 0, status: 'error', billedCostMicros: 0 });
    }
  });

  it('gives up after 2 retries: 502 with the provider status, nothing billed', async () => {
    h.upstream.options.failFirst = { times: 10, status: 500 };
    const before = h.upstream.received.length;
    const res = await fetch(`${h.urls[0]}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.keys.sa_main}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: CHEAP, messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(res.status).toBe(502);
    expect((await res.json()).error.provider_status).toBe(500);
    expect(h.upstream.received.length - before).toBe(3);
    const e = await h.eventFor(res.headers.get('x-request-id'));
    expect(e).toMatchObject({ retries: 2, status: 'error', billedCostMicros: 0 });
  });

  it('streams: retried when the upstream failed before the first byte, not once it streamed', async () => {
    h.upstream.options.failFirst = { times: 1, status: 502 };
    let before = h.upstream.received.length;
    const { data: stream, response } = await h
      .client('sa_main')
      .chat.completions.create({
        model: CHEAP,
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 3,
        stream: true,
      })
      .withResponse();
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe('w0 w1 w2 ');
    expect(h.upstream.received.length - before).toBe(2);
    const e = await h.eventFor(response.headers.get('x-request-id'));
    expect(e).toMatchObject({ retries: 1, stream: true, outputTokens: 3 });

    h.upstream.options.cutAfterChunks = 2;
    before = h.upstream.received.length;
    const cut = await fetch(`${h.urls[0]}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.keys.sa_main}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: CHEAP,
        messages: [{ role: 'user', content: 'x' }],
        max_tokens: 6,
        stream: true,
      }),
    });
    await cut.text().catch(() => '');
    const cutEvent = await h.eventFor(cut.headers.get('x-request-id'));
    expect(h.upstream.received.length - before).toBe(1);
    expect(cutEvent).toMatchObject({ retries: 0, errorClass: 'upstream_cut' });
  });

  it('a client gone during the backoff ends it: no further upstream call', async () => {
    h.upstream.options.failFirst = { times: 1, status: 429, retryAfter: '1' };
    const before = h.upstream.received.length;
    const ctrl = new AbortController();
    const pending = fetch(`${h.urls[0]}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.keys.sa_cap}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: CHEAP, messages: [{ role: 'user', content: 'x' }] }),
      signal: ctrl.signal,
    }).catch((err: unknown) => err);
    await new Promise((r) => setTimeout(r, 300));
    ctrl.abort();
    await pending;
    await new Promise((r) => setTimeout(r, 1_200));
    expect(h.upstream.received.length - before).toBe(1);
    const events = (await h.events()).filter((e) => e.subAccountId === 'sa_cap');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      errorClass: 'client_disconnected',
      retries: 1,
      billedCostMicros: 0,
    });
  });

  it('retry delays: jittered backoff, retry-after(-ms) honoured up to 2 s', () => {
    for (let i = 0; i < 50; i++) {
      const d1 = retryDelayMs(1, null, 100)!;
      expect(d1).toBeGreaterThanOrEqual(50);
      expect(d1).toBeLessThanOrEqual(100);
      const d2 = retryDelayMs(2, null, 100)!;
      expect(d2).toBeGreaterThanOrEqual(100);
      expect(d2).toBeLessThanOrEqual(200);
    }
    expect(retryDelayMs(1, { 'retry-after': '2' })).toBe(2_000);
    expect(retryDelayMs(1, { 'retry-after': '3' })).toBeNull();
    expect(retryDelayMs(1, { 'retry-after-ms': '250', 'retry-after': '9' })).toBe(250);
    const now = Date.parse('2026-01-01T00:00:00Z');
    const date = new Date(now + 1_000).toUTCString();
    expect(retryDelayMs(1, { 'retry-after': date }, 100, now)).toBe(1_000);
  });
});
