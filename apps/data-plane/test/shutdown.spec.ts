import { request } from 'node:http';
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
});
