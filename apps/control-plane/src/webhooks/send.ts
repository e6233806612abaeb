import { lookup } from 'node:dns/promises';
import { isPrivateHost } from '@tollgate/policy/private-address';

export interface SendResult {
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  responseExcerpt: string | null;
  durationMs: number;
}

export interface SendOptions {
  timeoutMs: number;
  excerptBytes: number;
  allowPrivateUrls: boolean;
}

/** Reads at most `limit` bytes of a body, then drops the rest (a huge answer costs nothing). */
async function excerpt(res: Response, limit: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

/**
 * One HTTP attempt. Never throws: every failure (refused address, network error, timeout, non-2xx)
 * is a result for the delivery log. Redirects are not followed (a 3xx is a failure), so a receiver
 * cannot bounce a signed request to another (private) address; names are resolved and checked
 * here, since a public-looking name may point inside the network.
 */
export async function sendWebhook(
  url: string,
  headers: Record<string, string>,
  body: string,
  opts: SendOptions,
): Promise<SendResult> {
  const started = performance.now();
  const done = (r: Omit<SendResult, 'durationMs'>): SendResult => ({
    ...r,
    durationMs: Math.round(performance.now() - started),
  });
  try {
    const target = new URL(url);
    if (!opts.allowPrivateUrls) {
      const host = target.hostname.replace(/^\[|\]$/g, '');
      const addresses = await lookup(host, { all: true });
      if (isPrivateHost(host) || addresses.some((a) => isPrivateHost(a.address))) {
        return done({
          ok: false,
          statusCode: null,
          error: `refused: ${host} is a private, loopback or link-local address`,
          responseExcerpt: null,
        });
      }
    }
    const signal = AbortSignal.timeout(opts.timeoutMs);
    const res = await fetch(target, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Tollgate-Webhooks/1',
        ...headers,
      },
      body,
      redirect: 'manual',
      signal,
    });
    const text = await excerpt(res, opts.excerptBytes);
    const ok = res.status >= 200 && res.status < 300;
    return done({
      ok,
      statusCode: res.status,
      error: ok ? null : `receiver answered ${res.status}`,
      responseExcerpt: text,
    });
  } catch (err) {
    const e = err as Error;
    const timedOut = e.name === 'TimeoutError' || e.name === 'AbortError';
    return done({
      ok: false,
      statusCode: null,
      error: timedOut
        ? `timed out after ${opts.timeoutMs} ms`
        : `${e.message}${e.cause ? `: ${String((e.cause as Error).message ?? e.cause)}` : ''}`.slice(
            0,
            500,
          ),
      responseExcerpt: null,
    });
  }
}
