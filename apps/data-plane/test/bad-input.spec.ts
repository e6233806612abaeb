import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness, subAccount } from './harness.ts';
import { until } from './wait.ts';

const MINI = 'openai/gpt-5.4-mini';
const OK_MESSAGES = [{ role: 'user', content: 'hi' }];

interface Case {
  name: string;
  status: number;
  path?: string;
  method?: string;
  auth?: string | null;
  body?: string;
  headers?: Record<string, string>;
  param?: string;
}

const chat = (over: Record<string, unknown>) =>
  JSON.stringify({ model: MINI, messages: OK_MESSAGES, ...over });

const CASES: Case[] = [
  { name: 'no Authorization header', status: 401, auth: null, body: chat({}) },
  { name: 'unknown key', status: 401, auth: 'Bearer sk-tg-unknown', body: chat({}) },
  { name: 'Basic instead of Bearer', status: 401, auth: 'Basic c2stdGc6eA==', body: chat({}) },
  { name: 'malformed JSON', status: 400, body: '{"model": "openai/gpt-5.4-mini",' },
  { name: 'empty body', status: 400, body: '' },
  { name: 'array body', status: 400, body: '[1,2]' },
  { name: 'string body', status: 400, body: '"hello"' },
  { name: 'null body', status: 400, body: 'null' },
  {
    name: 'missing model',
    status: 400,
    body: JSON.stringify({ messages: OK_MESSAGES }),
    param: 'model',
  },
  { name: 'numeric model', status: 400, body: chat({ model: 42 }), param: 'model' },
  {
    name: 'NUL in model',
    status: 400,
    body: chat({ model: 'openai/gpt-5.4-mini\u0000' }),
    param: 'model',
  },
  { name: 'empty model', status: 400, body: chat({ model: '' }), param: 'model' },
  {
    name: 'max_tokens as string',
    status: 400,
    body: chat({ max_tokens: '100' }),
    param: 'max_tokens',
  },
  { name: 'negative max_tokens', status: 400, body: chat({ max_tokens: -5 }), param: 'max_tokens' },
  {
    name: 'fractional max_tokens',
    status: 400,
    body: chat({ max_tokens: 1.5 }),
    param: 'max_tokens',
  },
  {
    name: 'zero max_completion_tokens',
    status: 400,
    body: chat({ max_completion_tokens: 0 }),
    param: 'max_completion_tokens',
  },
  { name: 'stream as string', status: 400, body: chat({ stream: 'yes' }), param: 'stream' },
  {
    name: 'stream_options not an object',
    status: 400,
    body: chat({ stream: true, stream_options: 1 }),
    param: 'stream_options',
  },
  {
    name: 'messages missing',
    status: 400,
    body: JSON.stringify({ model: MINI }),
    param: 'messages',
  },
  { name: 'messages empty', status: 400, body: chat({ messages: [] }), param: 'messages' },
  { name: 'n = 0', status: 400, body: chat({ n: 0 }), param: 'n' },
  {
    name: 'metadata.tags not a list',
    status: 400,
    body: chat({ metadata: { tags: 'a' } }),
    param: 'metadata.tags',
  },
  {
    name: 'invalid tag header',
    status: 400,
    body: chat({}),
    headers: { 'x-tollgate-tag': 'bad tag!' },
    param: 'x-tollgate-tag',
  },
  {
    name: 'embeddings with stream',
    status: 400,
    path: '/v1/embeddings',
    body: JSON.stringify({ model: 'openai/text-embedding-3-small', input: 'x', stream: true }),
  },
  {
    name: 'embeddings without input',
    status: 400,
    path: '/v1/embeddings',
    body: JSON.stringify({ model: 'openai/text-embedding-3-small' }),
    param: 'input',
  },
  { name: 'huge body (2 MiB)', status: 413, body: chat({ pad: 'x'.repeat(2 * 1024 * 1024) }) },
  { name: 'unknown endpoint', status: 404, path: '/v1/nope', body: chat({}) },
  { name: 'GET on a POST endpoint', status: 405, method: 'GET' },
  { name: 'model without provider prefix', status: 404, body: chat({ model: 'gpt-5.4-mini' }) },
];

describe('data plane: bad input answers the SPEC §6 envelope and forwards nothing', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ subs: [subAccount('sa_main')] });
  });
  afterAll(async () => {
    await h.close();
  });

  it.each(CASES)('$name → $status', async (c) => {
    const before = h.upstream.hits();
    const headers: Record<string, string> = { 'content-type': 'application/json', ...c.headers };
    const auth = c.auth === undefined ? `Bearer ${h.keys.sa_main}` : c.auth;
    if (auth !== null) headers.authorization = auth;
    const method = c.method ?? 'POST';
    const res = await fetch(`${h.urls[0]}${c.path ?? '/v1/chat/completions'}`, {
      method,
      headers,
      body: method === 'GET' ? undefined : c.body,
    });
    expect(res.status).toBe(c.status);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    const body = (await res.json()) as { error: Record<string, unknown> };
    expect(Object.keys(body)).toEqual(['error']);
    expect(typeof body.error.message).toBe('string');
    expect(typeof body.error.type).toBe('string');
    expect('code' in body.error && 'param' in body.error).toBe(true);
    if (c.param) expect(body.error.param).toBe(c.param);
    expect(h.upstream.hits()).toBe(before);
  });
});

describe('data plane: a refused body still leaves its usage record (SPEC §7)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ subs: [subAccount('sa_main')] });
  });
  afterAll(async () => {
    await h.close();
  });

  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(`${h.urls[0]}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${h.keys.sa_main}`,
        'content-type': 'application/json',
        ...headers,
      },
      body,
    });

  it('a body too large: blocked, request_too_large, with the tags of its header', async () => {
    const res = await post(chat({ pad: 'x'.repeat(2 * 1024 * 1024) }), { 'x-tollgate-tag': 'big' });
    expect(res.status).toBe(413);
    await res.arrayBuffer();
    const event = await h.eventFor(res.headers.get('x-request-id')!);
    expect(event).toMatchObject({
      status: 'blocked',
      errorClass: 'request_too_large',
      httpStatus: 413,
      subAccountId: 'sa_main',
      tags: ['big'],
      billedCostMicros: 0,
    });
  });

  it('malformed JSON: blocked, invalid_request, with the tags of its header', async () => {
    const res = await post('{"model": ', { 'x-tollgate-tag': 'broken' });
    expect(res.status).toBe(400);
    await res.arrayBuffer();
    const event = await h.eventFor(res.headers.get('x-request-id')!);
    expect(event).toMatchObject({
      status: 'blocked',
      errorClass: 'invalid_request',
      httpStatus: 400,
      tags: ['broken'],
    });
  });

  it('a body nested thousands of levels deep: 400 and a record, on every model route (not a 500)', async () => {
    const before = h.upstream.hits();
    const deep = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
    for (const [path, stream] of [
      ['/v1/chat/completions', false],
      ['/v1/chat/completions', true],
      ['/v1/embeddings', false],
    ] as const) {
      // ~12 KB: JSON.parse takes it, re-encoding it for the upstream overflowed the stack.
      const body = `{"model":"${MINI}","messages":[{"role":"user","content":"hi"}],"input":"hi","stream":${stream},"x":${deep(6_000)}}`;
      const res = await fetch(`${h.urls[0]}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${h.keys.sa_main}`, 'content-type': 'application/json' },
        body,
      });
      expect(res.status).toBe(400);
      const answer = (await res.json()) as { error: { type: string; message: string } };
      expect(answer.error.type).toBe('invalid_request_error');
      expect(answer.error.message).toMatch(/nested too deeply: at most 256 levels/);
      const event = await h.eventFor(res.headers.get('x-request-id')!);
      expect(event).toMatchObject({ status: 'blocked', errorClass: 'invalid_request' });
    }
    expect(h.upstream.hits()).toBe(before);
    // 255 levels under the body's own object are accepted and forwarded.
    const ok = await post(
      `{"model":"${MINI}","messages":[{"role":"user","content":"hi"}],"x":${deep(255)}}`,
    );
    expect(ok.status).toBe(200);
    await ok.arrayBuffer();
  });

  it('a NUL in model: refused, and its record carries no model at all', async () => {
    const res = await post(chat({ model: 'openai/gpt-5.4-mini\u0000' }));
    expect(res.status).toBe(400);
    await res.arrayBuffer();
    const event = await h.eventFor(res.headers.get('x-request-id')!);
    expect(event).toMatchObject({ status: 'blocked', errorClass: 'invalid_request', model: '' });
  });

  it("a provider's model name is stored without control characters, at most 256 long", async () => {
    h.upstream.options.servedModel = `gpt\u0000-odd\n${'x'.repeat(400)}`;
    try {
      const res = await post(chat({ max_tokens: 2 }));
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      const event = await h.eventFor(res.headers.get('x-request-id')!);
      expect(event.servedModel).toBe(`gpt-odd${'x'.repeat(249)}`);
    } finally {
      h.upstream.options.servedModel = undefined;
    }
  });

  it('a client gone before its body was complete: recorded as client_disconnected', async () => {
    const before = (await h.events()).length;
    const port = Number(new URL(h.urls[0]!).port);
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(
      [
        'POST /v1/chat/completions HTTP/1.1',
        'host: 127.0.0.1',
        `authorization: Bearer ${h.keys.sa_main}`,
        'content-type: application/json',
        'content-length: 1000',
        'x-tollgate-tag: cut',
        '',
        '{"model":"openai/gpt',
      ].join('\r\n'),
    );
    await new Promise((r) => setTimeout(r, 100));
    socket.destroy();
    const found = await until('a record of the cut request', async () =>
      (await h.events()).slice(before).find((e) => e.errorClass === 'client_disconnected'),
    );
    expect(found).toMatchObject({
      status: 'blocked',
      httpStatus: 499,
      subAccountId: 'sa_main',
      tags: ['cut'],
      model: '',
      billedCostMicros: 0,
    });
  });
});
