import { refusedPort } from '@tollgate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHEAP, type Harness, startHarness, subAccount } from './harness.ts';

const req = () => ({
  model: CHEAP,
  messages: [{ role: 'user' as const, content: 'x' }],
  max_tokens: 50,
});
const streamReq = (maxTokens = 50) => ({ ...req(), max_tokens: maxTokens, stream: true as const });

describe('data plane: upstream faults and client disconnects', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      subs: [subAccount('sa_main', { spendCapMicros: 1_000_000 })],
      upstreamTimeoutMs: 300,
    });
  });
  afterAll(async () => {
    await h.close();
  });

  it('upstream 500 → 502 upstream_error with the provider status; record says error, nothing billed', async () => {
    h.upstream.options.failWith = 500;
    try {
      const err = await h
        .client('sa_main')
        .chat.completions.create(req())
        .catch((e) => e);
      expect(err.status).toBe(502);
      expect(err.type).toBe('upstream_error');
      expect(err.error.provider_status).toBe(500);
      const id = err.headers.get('x-request-id');
      const e = (await h.events()).find((x) => x.requestId === id)!;
      expect(e).toMatchObject({
        status: 'error',
        errorClass: 'upstream_error',
        httpStatus: 502,
        billedCostMicros: 0,
      });
    } finally {
      h.upstream.options.failWith = undefined;
    }
  });

  it('upstream 400 passes through as the provider envelope', async () => {
    h.upstream.options.failWith = 400;
    try {
      const err = await h
        .client('sa_main')
        .chat.completions.create(req())
        .catch((e) => e);
      expect(err.status).toBe(400);
    } finally {
      h.upstream.options.failWith = undefined;
    }
  });

  it("a provider's 4xx that is not an OpenAI envelope reaches the client as one (SPEC §6)", async () => {
    const raw = async () => {
      const res = await fetch(`${h.urls[0]}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${h.keys.sa_main}`, 'content-type': 'application/json' },
        body: JSON.stringify(req()),
      });
      return { res, body: (await res.json()) as { error: Record<string, unknown> } };
    };
    try {
      h.upstream.options.failWith = 400;
      h.upstream.options.failBody = { contentType: 'text/html', text: '<html>Bad</html>' };
      const html = await raw();
      expect(html.res.status).toBe(400);
      expect(html.res.headers.get('content-type')).toBe('application/json');
      expect(html.body.error).toEqual({
        message: 'The provider refused the request (400).',
        type: 'invalid_request_error',
        code: 'upstream_400',
        param: null,
        provider_status: 400,
      });
      // The provider's own envelope, short of code and param: completed, its fields kept.
      h.upstream.options.failWith = 422;
      h.upstream.options.failBody = {
        contentType: 'application/json',
        text: JSON.stringify({
          error: { message: 'bad tool', type: 'invalid_request_error', x: 1 },
        }),
      };
      const partial = await raw();
      expect(partial.res.status).toBe(422);
      expect(partial.body.error).toEqual({
        message: 'bad tool',
        type: 'invalid_request_error',
        code: null,
        param: null,
        x: 1,
      });
      // A 429 (after our own retries) without Retry-After still tells the client when to return.
      h.upstream.options.failWith = 429;
      h.upstream.options.failBody = { contentType: 'text/plain', text: 'slow down' };
      const limited = await raw();
      expect(limited.res.status).toBe(429);
      expect(limited.res.headers.get('retry-after')).toBe('1');
      expect(limited.body.error).toMatchObject({
        type: 'rate_limit_exceeded',
        code: 'upstream_429',
      });
    } finally {
      h.upstream.options.failWith = undefined;
      h.upstream.options.failBody = undefined;
    }
  });

  it('a provider error that echoes the platform key reaches the client without it', async () => {
    try {
      h.upstream.options.failWith = 400;
      h.upstream.options.failBody = {
        contentType: 'application/json',
        text: JSON.stringify({
          error: {
            message:
              'Incorrect API key provided: Bearer sk-platform-upstream (again: sk-platform-upstream)',
            type: 'invalid_request_error',
            echoed: { authorization: 'Bearer sk-platform-upstream' },
          },
        }),
      };
      const res = await fetch(`${h.urls[0]}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${h.keys.sa_main}`, 'content-type': 'application/json' },
        body: JSON.stringify(req()),
      });
      expect(res.status).toBe(400);
      const text = await res.text();
      expect(text).not.toContain('sk-platform-upstream');
      expect(JSON.parse(text).error).toMatchObject({
        message: 'Incorrect API key provided: Bearer [redacted] (again: [redacted])',
        echoed: { authorization: 'Bearer [redacted]' },
      });
    } finally {
      h.upstream.options.failWith = undefined;
      h.upstream.options.failBody = undefined;
    }
  });

  it('upstream timeout → 504 upstream_timeout', async () => {
    h.upstream.options.delayMs = 1_500;
    try {
      const err = await h
        .client('sa_main')
        .chat.completions.create(req())
        .catch((e) => e);
      expect(err.status).toBe(504);
      expect(err.type).toBe('upstream_timeout');
      // The upstream had the prompt: billed, estimated — never zero because usage was missing.
      const e = await h.eventFor(err.headers.get('x-request-id'));
      expect(e).toMatchObject({ errorClass: 'upstream_timeout', httpStatus: 504, estimated: true });
      expect(e.inputTokens).toBeGreaterThan(0);
      expect(e.outputTokens).toBe(0);
      expect(e.billedCostMicros).toBeGreaterThan(0);
    } finally {
      h.upstream.options.delayMs = undefined;
    }
  });

  it('client gone before the answer began: record 499, its prompt billed (estimated), not zero', async () => {
    h.upstream.options.delayMs = 250;
    const before = h.upstream.received.length;
    const ac = new AbortController();
    try {
      const pending = h
        .client('sa_main')
        .chat.completions.create(req(), { signal: ac.signal })
        .catch((e) => e);
      // Abort once the upstream holds the request.
      while (h.upstream.received.length === before) await new Promise((r) => setTimeout(r, 5));
      ac.abort();
      await pending;
      let e: Awaited<ReturnType<Harness['events']>>[number] | undefined;
      for (let i = 0; i < 100 && e === undefined; i++) {
        e = (await h.events()).find((x) => x.errorClass === 'client_disconnected' && !x.stream);
        if (e === undefined) await new Promise((r) => setTimeout(r, 20));
      }
      expect(e).toMatchObject({ httpStatus: 499, estimated: true, outputTokens: 0 });
      expect(e!.inputTokens).toBeGreaterThan(0);
      expect(e!.billedCostMicros).toBeGreaterThan(0);
    } finally {
      h.upstream.options.delayMs = undefined;
    }
  });

  it('upstream cut mid-stream: the client stream is cut too (the SDK raises), the record is estimated and not zero', async () => {
    let id: string | null = null;
    h.upstream.options.cutAfterChunks = 5;
    h.upstream.options.outputTokens = 40;
    try {
      const { data: stream, response } = await h
        .client('sa_main')
        .chat.completions.create(streamReq())
        .withResponse();
      id = response.headers.get('x-request-id');
      let text = '';
      const failure = await (async () => {
        for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
      })().then(
        () => null,
        (err: unknown) => err,
      );
      // What was streamed arrives; the end does not look like a finished answer.
      expect(text.startsWith('w0 w1 w2 w3')).toBe(true);
      expect(String(failure)).toMatch(/terminated/);
    } finally {
      h.upstream.options.cutAfterChunks = undefined;
      h.upstream.options.outputTokens = 10;
    }
    const e = await h.eventFor(id);
    expect(e.status).toBe('error');
    expect(e.errorClass).toBe('upstream_cut');
    expect(e.estimated).toBe(true);
    expect(e.outputTokens).toBeGreaterThanOrEqual(4);
    expect(e.billedCostMicros).toBeGreaterThan(0);
  });

  it('client disconnect mid-stream: upstream aborted, record 499 with a non-zero estimated cost', async () => {
    h.upstream.options.chunkDelayMs = 20;
    h.upstream.options.outputTokens = 200;
    const ac = new AbortController();
    let id: string | null = null;
    try {
      const { data: stream, response } = await h
        .client('sa_main')
        .chat.completions.create(streamReq(1000), { signal: ac.signal })
        .withResponse();
      id = response.headers.get('x-request-id');
      let n = 0;
      await (async () => {
        for await (const _ of stream) if (++n === 5) ac.abort();
      })().catch(() => {});
      // Keep the upstream slow until the record exists: resetting it earlier would let the rest of
      // the stream rush through before the proxy notices the client is gone.
      const e = await h.eventFor(id);
      expect(e.httpStatus).toBe(499);
      expect(e.errorClass).toBe('client_disconnected');
      expect(e.estimated).toBe(true);
      expect(e.billedCostMicros).toBeGreaterThan(0);
    } finally {
      h.upstream.options.chunkDelayMs = undefined;
      h.upstream.options.outputTokens = 10;
    }
  });
});

describe('data plane: unreachable upstream', () => {
  it('connection refused → 502 upstream_error', async () => {
    // The platform upstream on a port that nothing listens on, nor will during the test.
    const h = await startHarness({
      subs: [subAccount('sa_main')],
      upstreams: {
        openai: { baseUrl: `http://127.0.0.1:${await refusedPort()}`, apiKey: 'sk-platform' },
      },
    });
    try {
      const err = await h
        .client('sa_main')
        .chat.completions.create(req())
        .catch((e) => e);
      expect(err.status).toBe(502);
      expect(err.type).toBe('upstream_error');
    } finally {
      await h.close();
    }
  });
});
