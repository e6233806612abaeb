import { parseExposition } from '@tollgate/metrics';
import { type RawAnswer, rawHttp } from '@tollgate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness, subAccount } from './harness.ts';

/**
 * Hostile input against the data plane's model endpoints (raw sockets for malformed HTTP): every
 * case answers a clear 4xx in OpenAI's error envelope with a stable code, the fake upstream receives
 * nothing, no reservation stays open and nothing is billed.
 */
const MODEL = 'openai/gpt-5.4-mini';
const OK = { model: MODEL, messages: [{ role: 'user', content: 'hi' }] };

interface Case {
  name: string;
  /** A request for fetch, or raw bytes for a socket. */
  send:
    | { body: string | Buffer; headers?: Record<string, string>; path?: string; method?: string }
    | { raw: (host: string, key: string) => string | Buffer };
  status: number;
  /** `error.code` (null when the envelope carries none). */
  code: string | null;
  /** `error.message`, where it is the point of the case. */
  message?: string;
}

const json = (over: Record<string, unknown>) => JSON.stringify({ ...OK, ...over });
const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;

const cases: Case[] = [
  {
    name: 'invalid UTF-8 bytes inside a message',
    send: {
      body: Buffer.concat([
        Buffer.from(`{"model":"${MODEL}","messages":[{"role":"user","content":"`),
        Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xff]),
        Buffer.from('"}]}'),
      ]),
    },
    status: 400,
    code: null,
  },
  {
    name: 'overlong UTF-8 encoding of "/"',
    send: {
      body: Buffer.concat([
        Buffer.from('{"model":"openai'),
        Buffer.from([0xc0, 0xaf]),
        Buffer.from('gpt-5.4-mini","messages":[]}'),
      ]),
    },
    status: 400,
    code: null,
  },
  {
    name: '2 MiB body',
    send: { body: json({ messages: [{ role: 'user', content: 'x'.repeat(2 * 1024 * 1024) }] }) },
    status: 413,
    code: 'request_too_large',
  },
  {
    name: '10 000-deep nested JSON',
    send: {
      body: json({ messages: JSON.parse('[]'), metadata: { x: 1 } }).replace(
        '"messages":[]',
        `"messages":${deep(10_000)}`,
      ),
    },
    status: 400,
    code: null,
  },
  {
    name: 'model injection string',
    send: { body: json({ model: "openai/gpt-5.4-mini'; DROP TABLE usage; --" }) },
    status: 404,
    code: 'model_not_found',
  },
  {
    name: 'model path traversal',
    send: { body: json({ model: 'openai/../../v1/workspaces' }) },
    status: 404,
    code: 'model_not_found',
  },
  {
    name: 'model __proto__',
    send: { body: json({ model: '__proto__' }) },
    status: 404,
    code: 'model_not_found',
  },
  {
    name: 'model as an operator object',
    send: { body: json({ model: { $ne: null } }) },
    status: 400,
    code: null,
  },
  {
    name: '__proto__ overriding the model',
    send: { body: `{"__proto__":{"model":"${MODEL}"},"messages":[]}` },
    status: 400,
    code: null,
  },
  {
    name: 'n of a billion',
    send: { body: json({ n: 1_000_000_000 }) },
    status: 400,
    code: null,
  },
  {
    name: 'max_tokens beyond 2^53',
    send: { body: json({ max_tokens: 2 ** 60 }) },
    status: 400,
    code: null,
  },
  {
    name: '200 tags in the header',
    send: {
      body: json({}),
      headers: { 'x-tollgate-tag': Array.from({ length: 200 }, (_, i) => `t${i}`).join(',') },
    },
    status: 400,
    code: 'too_many_tags',
  },
  {
    name: 'injection string as a tag',
    send: { body: json({}), headers: { 'x-tollgate-tag': "a' OR '1'='1" } },
    status: 400,
    code: 'invalid_tag',
  },
  {
    name: 'metadata.tags not a list',
    send: { body: json({ metadata: { tags: 'x' } }) },
    status: 400,
    code: 'invalid_tag',
  },
  {
    name: 'a UTF-8 tag in the header',
    send: {
      raw: (host, key) => {
        const body = JSON.stringify(OK);
        return Buffer.from(
          `POST /v1/chat/completions HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nx-tollgate-tag: ünï\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
          'utf8',
        );
      },
    },
    status: 400,
    code: 'invalid_tag',
    message: 'tag "ünï" must be 1-64 characters of A-Z a-z 0-9 _ . : -',
  },
  {
    name: 'operator object in metadata.tags',
    send: { body: json({ metadata: { tags: [{ $gt: '' }] } }) },
    status: 400,
    code: 'invalid_tag',
  },
  {
    name: 'two bearer tokens',
    send: { body: json({}), headers: { authorization: 'Bearer sk-tg-a sk-tg-b' } },
    status: 401,
    code: 'invalid_api_key',
  },
  {
    name: 'a 10 KB bearer token',
    send: { body: json({}), headers: { authorization: `Bearer sk-tg-${'k'.repeat(10_000)}` } },
    status: 401,
    code: 'invalid_api_key',
  },
  {
    name: 'GET on a model endpoint',
    send: { body: '', method: 'GET' },
    status: 405,
    code: 'method_not_allowed',
  },
  {
    name: 'Content-Length with Transfer-Encoding: chunked',
    send: {
      raw: (host, key) => {
        const body = JSON.stringify(OK);
        return `POST /v1/chat/completions HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
      },
    },
    status: 400,
    code: 'malformed_request',
  },
  {
    name: 'two different Content-Length headers',
    send: {
      raw: (host, key) => {
        const body = JSON.stringify(OK);
        return `POST /v1/chat/completions HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nContent-Length: 3\r\n\r\n${body}`;
      },
    },
    status: 400,
    code: 'malformed_request',
  },
  {
    name: 'CRLF smuggled into a header value',
    send: {
      raw: (host, key) => {
        const body = JSON.stringify(OK);
        return `POST /v1/chat/completions HTTP/1.1\r\nHost: ${host}\r\nX-Tollgate-Tag: a\rContent-Length: 0\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
      },
    },
    status: 400,
    code: 'malformed_request',
  },
  {
    name: 'NUL byte in a header value',
    send: {
      raw: (host, key) => {
        const body = JSON.stringify(OK);
        return `POST /v1/chat/completions HTTP/1.1\r\nHost: ${host}\r\nX-Tollgate-Tag: a\u0000b\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
      },
    },
    status: 400,
    code: 'malformed_request',
  },
  {
    name: 'a pipelined second request hidden in a chunked body',
    send: {
      raw: (host, key) =>
        `POST /v1/chat/completions HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${key}\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\nPOST /v1/chat/completions HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${key}\r\nContent-Length: 2\r\n\r\n{}`,
    },
    status: 400,
    code: 'malformed_request',
  },
  {
    name: '64 KB of headers',
    send: {
      raw: (host, key) =>
        `POST /v1/chat/completions HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${key}\r\nX-Pad: ${'p'.repeat(64 * 1024)}\r\nContent-Length: 2\r\n\r\n{}`,
    },
    status: 431,
    code: 'headers_too_large',
  },
  {
    name: 'path traversal towards the admin API',
    send: {
      raw: (host, key) =>
        `GET /v1/chat/completions/../../v1/workspaces HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${key}\r\nConnection: close\r\n\r\n`,
    },
    status: 404,
    code: 'unknown_url',
  },
];

describe('hostile input on the data plane', () => {
  let h: Harness;
  let key: string;
  beforeAll(async () => {
    h = await startHarness({ subs: [subAccount('sa_h', { spendCapMicros: 1_000_000 })] });
    key = h.keys.sa_h!;
  });
  afterAll(async () => {
    await h.close();
  });

  it.each(cases.map((c) => [c.name, c] as const))(
    '%s: clear 4xx, upstream untouched',
    async (_n, c) => {
      const url = h.urls[0]!;
      const hits = h.upstream.hits();
      let a: { status: number; body: RawAnswer['body']; requestId: string | null };
      if ('raw' in c.send) {
        const raw = await rawHttp(url, c.send.raw(new URL(url).host, key));
        a = { ...raw, requestId: raw.headers['x-request-id'] ?? null };
      } else {
        const res = await fetch(`${url}${c.send.path ?? '/v1/chat/completions'}`, {
          method: c.send.method ?? 'POST',
          headers: {
            authorization: `Bearer ${key}`,
            'content-type': 'application/json',
            ...c.send.headers,
          },
          body:
            c.send.method === 'GET'
              ? undefined
              : typeof c.send.body === 'string'
                ? c.send.body
                : new Uint8Array(c.send.body),
        });
        a = {
          status: res.status,
          body: await res.json(),
          requestId: res.headers.get('x-request-id'),
        };
      }
      expect(a.status).toBe(c.status);
      // SPEC §6: on every answer — malformed HTTP and oversized heads included.
      expect(a.requestId).toMatch(/^req_[0-9a-f]{32}$/);
      expect(a.body.error).toMatchObject({ code: c.code, type: expect.any(String) });
      expect(a.body.error).toHaveProperty('param');
      expect(a.body.error.message.length).toBeGreaterThan(0);
      if (c.message !== undefined) expect(a.body.error.message).toBe(c.message);
      await h.planes[0]!.flushUsage();
      expect(h.upstream.hits()).toBe(hits);
      const m = parseExposition(await (await fetch(`${url}/metrics`)).text());
      expect(m.value('tollgate_dp_reservations_open')).toBe(0);
    },
  );

  it('nothing was served or billed across the whole suite', async () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
    expect(h.upstream.hits()).toBe(0);
    const events = await h.events();
    expect(events.every((e) => e.status === 'blocked' && e.billedCostMicros === 0)).toBe(true);
  });
});
