import { request } from 'node:http';
import { connect } from 'node:net';
import { redisAvailable, startPrivateRedis } from '@tollgate/testkit';
import { describe, expect, it } from 'vitest';
import { CHEAP, startHarness, subAccount } from './harness.ts';

/** One POST on its own keep-alive connection; resolves with the status and the raw headers. */
function post(url: string, key: string): Promise<{ status: number; connection: string | null }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ model: CHEAP, messages: [{ role: 'user', content: 'x' }] });
    const req = request(
      `${url}/v1/chat/completions`,
      {
        method: 'POST',
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          connection: 'keep-alive',
        },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            connection: (res.headers.connection as string | undefined) ?? null,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('data plane: graceful stop', () => {
  it('answers the requests already running, each telling its client to close the connection', async () => {
    const h = await startHarness({ subs: [subAccount('sa_stop')], upstream: { delayMs: 400 } });
    try {
      const before = h.upstream.hits();
      const running = post(h.urls[0]!, h.keys.sa_stop!);
      while (h.upstream.hits() === before) await new Promise((r) => setTimeout(r, 10));
      const stopped = h.planes[0]!.stop();
      const answer = await running;
      // Served in full, and not offered for reuse: a pooled client would send its next request on
      // a connection the stopping plane is about to close.
      expect(answer).toEqual({ status: 200, connection: 'close' });
      await stopped;
    } finally {
      await h.close().catch(() => undefined);
    }
  });

  it('past its drain deadline, cuts the streams still running and bills what each was served', async () => {
    // A 20 s stream; the plane may drain for 300 ms.
    const h = await startHarness({
      subs: [subAccount('sa_long')],
      upstream: { chunkDelayMs: 50, outputTokens: 400 },
      drainTimeoutMs: 300,
    });
    try {
      const res = await fetch(`${h.urls[0]}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${h.keys.sa_long}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: CHEAP,
          messages: [{ role: 'user', content: 'x' }],
          max_tokens: 400,
          stream: true,
        }),
      });
      const id = res.headers.get('x-request-id')!;
      const reader = res.body!.getReader();
      let seen = '';
      while ((seen.match(/"content":"w/g) ?? []).length < 5) {
        const { value, done } = await reader.read();
        if (done) throw new Error('the stream ended early');
        seen += Buffer.from(value).toString();
      }
      const started = Date.now();
      const result = await h.planes[0]!.stop();
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(result).toEqual({ undeliveredUsage: 0 });
      // The client's connection is cut (its SDK reports the answer incomplete), and the record
      // bills what was streamed.
      const rest = (async () => {
        for (;;) if ((await reader.read()).done) return 'ended';
      })();
      await expect(rest).rejects.toThrow(/terminated/);
      const e = (await h.events()).find((x) => x.requestId === id);
      expect(e).toMatchObject({
        status: 'error',
        errorClass: 'shutdown',
        httpStatus: 200,
        estimated: true,
      });
      expect(e!.outputTokens).toBeGreaterThanOrEqual(5);
      expect(e!.outputTokens).toBeLessThan(400);
      expect(e!.billedCostMicros).toBeGreaterThan(0);
    } finally {
      await h.close().catch(() => undefined);
    }
  });

  it('a request sent on a connection the stopping plane is closing is neither forwarded nor billed', async () => {
    // A keep-alive client sends its next request on a connection whose answer in progress went
    // out before the stop (`connection: keep-alive`): the plane closes that connection after the
    // answer, so the next request can never be answered there — it must not cost anything.
    // (Sent while the answer still streams; a client reusing the connection the moment an answer
    // ends meets the same state when its request lands before the close.)
    const h = await startHarness({
      subs: [subAccount('sa_reuse')],
      upstream: { chunkDelayMs: 40, outputTokens: 8 },
    });
    try {
      const port = new URL(h.urls[0]!).port;
      const body = JSON.stringify({
        model: CHEAP,
        messages: [{ role: 'user', content: 'x' }],
        stream: true,
      });
      const message = [
        'POST /v1/chat/completions HTTP/1.1',
        `host: 127.0.0.1:${port}`,
        `authorization: Bearer ${h.keys.sa_reuse}`,
        'content-type: application/json',
        `content-length: ${Buffer.byteLength(body)}`,
        'connection: keep-alive',
        '',
        body,
      ].join('\r\n');
      const socket = connect(Number(port), '127.0.0.1');
      let seen = '';
      let stopped: Promise<unknown> | undefined;
      const closed = new Promise<void>((resolve) => {
        socket.on('close', () => resolve());
        socket.on('error', () => undefined);
      });
      socket.on('data', (chunk) => {
        seen += chunk.toString();
        // The answer streams: stop the plane, then send the next request on this connection.
        if (stopped === undefined && seen.includes('"content":"w')) {
          stopped = h.planes[0]!.stop();
          socket.write(message);
        }
      });
      socket.write(message);
      await closed;
      await stopped;
      expect(stopped).toBeDefined();
      expect(seen.toLowerCase()).toContain('connection: keep-alive');
      expect(seen).toContain('data: [DONE]');
      // One answer on the wire, one request upstream, one record: the second was left unread.
      expect(seen.match(/HTTP\/1\.1 /g)).toHaveLength(1);
      expect(h.upstream.hits()).toBe(1);
      const records = (await h.events()).filter((e) => e.subAccountId === 'sa_reuse');
      expect(records.map((e) => e.status)).toEqual(['ok']);
    } finally {
      await h.close().catch(() => undefined);
    }
  });

  it.skipIf(!redisAvailable())(
    'retries usage it could not send while the stream is unreachable, then answers how much was lost',
    async () => {
      const redis = await startPrivateRedis();
      const h = await startHarness({ subs: [subAccount('sa_free')], redisUrl: redis.url });
      try {
        await redis.stop();
        // Unlimited: served even with the limiter away; its usage cannot reach the stream.
        const r = await fetch(`${h.urls[0]}/v1/chat/completions`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${h.keys.sa_free}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify({ model: CHEAP, messages: [{ role: 'user', content: 'x' }] }),
        });
        expect(r.status).toBe(200);
        await r.text();
        const started = Date.now();
        const result = await h.planes[0]!.stop();
        expect(result.undeliveredUsage).toBe(1);
        // It kept trying for its deadline (5 s) before giving up.
        expect(Date.now() - started).toBeGreaterThanOrEqual(4_500);
      } finally {
        await redis.restart(); // so the harness's own connections close at once
        await h.close().catch(() => undefined);
        await redis.stop();
      }
    },
    30_000,
  );
});
