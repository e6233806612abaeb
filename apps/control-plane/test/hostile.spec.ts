import { rawHttp } from '@tollgate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_KEY,
  type Answer,
  type Harness,
  KINDS,
  ROOT_KEY,
  rowCounts,
  skipKind,
  startHarness,
} from './harness.ts';

/**
 * Hostile input against the admin API (REST, GraphQL, raw HTTP): every case answers a clear 4xx in
 * its API's error envelope with a stable code, and changes nothing — the row counts of every admin
 * table (audit log included) and the targeted rows are the same before and after.
 */
const JSON_HEADERS = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };

interface Ids {
  sa: string;
  otherSa: string;
  otherKeyId: string;
  otherBudget: string;
  otherPk: string;
  otherKey: string;
  subKey: string;
}

type Expect =
  /** REST / raw HTTP: status and `error.code` of the SPEC §6 envelope. */
  | { status: number; code: string }
  /** GraphQL transport/validation errors: status and `errors[0].extensions.code`. */
  | { status: number; gql: string }
  /** A typed GraphQL result (200) whose field is this union member. */
  | { typed: string; field: string };

interface Case {
  name: string;
  send: (h: Harness, ids: Ids) => Promise<Answer>;
  expect: Expect;
}

const gqlPost = (h: Harness, body: unknown, key = ADMIN_KEY) =>
  h.raw('POST', '/graphql', {
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
  });

const post =
  (path: string, body: string, headers: Record<string, string> = JSON_HEADERS) =>
  (h: Harness) =>
    h.raw('POST', path, { body, headers });

/** Answers of raw sockets in the same shape as fetch's. */
async function raw(h: Harness, request: string | Buffer): Promise<Answer> {
  const a = await rawHttp(h.url, request);
  return { status: a.status, headers: new Headers(a.headers), body: a.body };
}

const host = (h: Harness) => new URL(h.url).host;

const INJECTIONS = [
  "' OR '1'='1",
  'sa_1\'; DROP TABLE "SubAccount"; --',
  '{"$gt": ""}',
  '../../v1/workspaces',
  'sa_%00',
];

const cases: Case[] = [
  // Injection strings in ids and filters: no route matches an id outside [A-Za-z0-9_-].
  ...INJECTIONS.map(
    (id): Case => ({
      name: `injection in a sub-account id: ${id}`,
      send: (h) => h.api('PATCH', `/v1/sub-accounts/${encodeURIComponent(id)}`, { name: 'pwned' }),
      expect: { status: 404, code: 'not_found' },
    }),
  ),
  {
    name: 'injection in a list filter',
    send: (h) => h.api('GET', `/v1/sub-accounts?status=${encodeURIComponent("active' OR 1=1--")}`),
    expect: { status: 400, code: 'validation_error' },
  },
  {
    name: 'injection in a month filter',
    send: (h) => h.api('GET', `/v1/usage/by-tag?month=${encodeURIComponent("2026-11'; DELETE")}`),
    expect: { status: 400, code: 'validation_error' },
  },
  {
    name: 'injection in a usage window',
    send: (h, ids) =>
      h.api('GET', `/v1/sub-accounts/${ids.sa}/usage?window=${encodeURIComponent('1d) OR (1=1')}`),
    expect: { status: 400, code: 'validation_error' },
  },
  {
    name: 'NoSQL operator object as a name',
    send: post('/v1/sub-accounts', '{"name":{"$gt":""}}'),
    expect: { status: 400, code: 'validation_error' },
  },
  {
    name: 'NoSQL operator object as a cap',
    send: post('/v1/sub-accounts', '{"name":"x","spend_cap_cents":{"$ne":null}}'),
    expect: { status: 400, code: 'validation_error' },
  },
  {
    name: 'operator key at the top level',
    send: post('/v1/sub-accounts', '{"name":"x","$where":"1"}'),
    expect: { status: 400, code: 'validation_error' },
  },
  // Prototype pollution.
  {
    name: '__proto__ key in a create body',
    send: post('/v1/sub-accounts', '{"name":"x","__proto__":{"status":"deleted"}}'),
    expect: { status: 400, code: 'validation_error' },
  },
  {
    name: 'constructor.prototype in a create body',
    send: post('/v1/sub-accounts', '{"name":"x","constructor":{"prototype":{"admin":true}}}'),
    expect: { status: 400, code: 'validation_error' },
  },
  {
    name: '__proto__ key in an update body',
    send: (h, ids) =>
      h.raw('PATCH', `/v1/sub-accounts/${ids.sa}`, {
        body: '{"__proto__":{"name":"p"}}',
        headers: JSON_HEADERS,
      }),
    expect: { status: 400, code: 'validation_error' },
  },
  {
    name: 'prototype key in a budget body',
    send: post('/v1/budgets', '{"tag":"t","monthly_cap_cents":1,"prototype":{}}'),
    expect: { status: 400, code: 'validation_error' },
  },
  // Cross-workspace ids: 404, exactly as for an id that does not exist.
  {
    name: "another workspace's sub-account (read)",
    send: (h, ids) => h.api('GET', `/v1/sub-accounts/${ids.otherSa}`),
    expect: { status: 404, code: 'not_found' },
  },
  {
    name: "another workspace's sub-account (update)",
    send: (h, ids) => h.api('PATCH', `/v1/sub-accounts/${ids.otherSa}`, { spend_cap_cents: 1 }),
    expect: { status: 404, code: 'not_found' },
  },
  {
    name: "another workspace's sub-account (delete)",
    send: (h, ids) => h.api('DELETE', `/v1/sub-accounts/${ids.otherSa}`),
    expect: { status: 404, code: 'not_found' },
  },
  {
    name: "another workspace's sub-account (mint a key)",
    send: (h, ids) => h.api('POST', `/v1/sub-accounts/${ids.otherSa}/keys`),
    expect: { status: 404, code: 'not_found' },
  },
  {
    name: "another workspace's key (revoke)",
    send: (h, ids) => h.api('DELETE', `/v1/sub-accounts/${ids.otherSa}/keys/${ids.otherKeyId}`),
    expect: { status: 404, code: 'not_found' },
  },
  {
    name: "another workspace's key under my sub-account (revoke)",
    send: (h, ids) => h.api('DELETE', `/v1/sub-accounts/${ids.sa}/keys/${ids.otherKeyId}`),
    expect: { status: 404, code: 'not_found' },
  },
  {
    name: "another workspace's usage",
    send: (h, ids) => h.api('GET', `/v1/sub-accounts/${ids.otherSa}/usage?window=24h`),
    expect: { status: 404, code: 'not_found' },
  },
  {
    name: "another workspace's budget (delete)",
    send: (h, ids) => h.api('DELETE', `/v1/budgets/${ids.otherBudget}`),
    expect: { status: 404, code: 'not_found' },
  },
  {
    name: "another workspace's provider key (delete)",
    send: (h, ids) => h.api('DELETE', `/v1/provider-keys/${ids.otherPk}`),
    expect: { status: 404, code: 'not_found' },
  },
  // Oversized and deeply nested payloads.
  {
    name: '2 MiB body',
    send: post(
      '/v1/sub-accounts',
      JSON.stringify({ name: 'x', metadata: { pad: 'x'.repeat(2 * 1024 * 1024) } }),
    ),
    expect: { status: 413, code: 'body_too_large' },
  },
  {
    name: '10 000-deep nested JSON in metadata',
    send: post(
      '/v1/sub-accounts',
      `{"name":"x","metadata":{"a":${'['.repeat(10_000)}${']'.repeat(10_000)}}}`,
    ),
    expect: { status: 400, code: 'validation_error' },
  },
  {
    name: '10 000-deep nested JSON as a field',
    send: post('/v1/sub-accounts', `{"name":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`),
    expect: { status: 400, code: 'validation_error' },
  },
  {
    name: 'huge allow-list array',
    send: post(
      '/v1/sub-accounts',
      JSON.stringify({ name: 'x', allowed_models: Array(50_000).fill('openai/gpt-4o') }),
    ),
    expect: { status: 400, code: 'validation_error' },
  },
  {
    name: '100 KB name',
    send: post('/v1/sub-accounts', JSON.stringify({ name: 'n'.repeat(100_000) })),
    expect: { status: 400, code: 'validation_error' },
  },
  {
    name: 'cap of 1e308',
    send: post('/v1/sub-accounts', '{"name":"x","spend_cap_cents":1e308}'),
    expect: { status: 400, code: 'validation_error' },
  },
  {
    name: 'cap beyond 2^64',
    send: post('/v1/sub-accounts', '{"name":"x","spend_cap_cents":123456789012345678901234567890}'),
    expect: { status: 400, code: 'validation_error' },
  },
  // Encodings and content types.
  {
    name: 'invalid UTF-8 bytes in a JSON body',
    send: (h) =>
      fetch(`${h.url}/v1/sub-accounts`, {
        method: 'POST',
        headers: JSON_HEADERS,
        body: Buffer.concat([
          Buffer.from('{"name":"'),
          Buffer.from([0xc3, 0x28, 0xff]),
          Buffer.from('"}'),
        ]),
      }).then(async (r) => ({ status: r.status, headers: r.headers, body: await r.json() })),
    expect: { status: 400, code: 'invalid_json' },
  },
  {
    name: 'UTF-16 body',
    send: (h) =>
      fetch(`${h.url}/v1/sub-accounts`, {
        method: 'POST',
        headers: JSON_HEADERS,
        body: Buffer.from('\ufeff{"name":"x"}', 'utf16le'),
      }).then(async (r) => ({ status: r.status, headers: r.headers, body: await r.json() })),
    expect: { status: 400, code: 'invalid_json' },
  },
  {
    name: 'text/plain content type',
    send: post('/v1/sub-accounts', '{"name":"x"}', {
      ...JSON_HEADERS,
      'content-type': 'text/plain',
    }),
    expect: { status: 415, code: 'unsupported_media_type' },
  },
  {
    name: 'form-encoded content type',
    send: post('/v1/sub-accounts', 'name=x', {
      ...JSON_HEADERS,
      'content-type': 'application/x-www-form-urlencoded',
    }),
    expect: { status: 415, code: 'unsupported_media_type' },
  },
  {
    name: 'NUL bytes in a name',
    send: post('/v1/sub-accounts', '{"name":"a\\u0000b"}'),
    expect: { status: 400, code: 'validation_error' },
  },
  {
    name: 'a query parameter given twice',
    send: (h) => h.api('GET', '/v1/sub-accounts?status=active&status=deleted'),
    expect: { status: 400, code: 'validation_error' },
  },
  // Credentials.
  {
    name: 'a sub-account key on the admin API',
    send: (h, ids) => h.api('POST', '/v1/sub-accounts', { name: 'x' }, ids.subKey),
    expect: { status: 401, code: 'invalid_api_key' },
  },
  {
    name: 'a 10 KB bearer token',
    send: (h) =>
      h.api('POST', '/v1/sub-accounts', { name: 'x' }, `sk-tg-admin-${'A'.repeat(10_000)}`),
    expect: { status: 401, code: 'invalid_api_key' },
  },
  {
    name: 'Basic credentials',
    send: post('/v1/sub-accounts', '{"name":"x"}', {
      'content-type': 'application/json',
      authorization: `Basic ${Buffer.from(`admin:${ADMIN_KEY}`).toString('base64')}`,
    }),
    expect: { status: 401, code: 'invalid_api_key' },
  },
  {
    name: 'an admin key on the root-only route',
    send: (h) => h.api('POST', '/v1/workspaces', { name: 'mine' }),
    expect: { status: 403, code: 'permission_denied' },
  },
  // Raw HTTP: smuggling-shaped framing and bad header bytes, refused by the parser in the envelope.
  {
    name: 'Content-Length with Transfer-Encoding: chunked',
    send: (h) =>
      raw(
        h,
        `POST /v1/sub-accounts HTTP/1.1\r\nHost: ${host(h)}\r\nAuthorization: Bearer ${ADMIN_KEY}\r\nContent-Type: application/json\r\nContent-Length: 13\r\nTransfer-Encoding: chunked\r\n\r\nd\r\n{"name":"x"}\r\n0\r\n\r\n`,
      ),
    expect: { status: 400, code: 'malformed_request' },
  },
  {
    name: 'two different Content-Length headers',
    send: (h) =>
      raw(
        h,
        `POST /v1/sub-accounts HTTP/1.1\r\nHost: ${host(h)}\r\nAuthorization: Bearer ${ADMIN_KEY}\r\nContent-Type: application/json\r\nContent-Length: 12\r\nContent-Length: 40\r\n\r\n{"name":"x"}`,
      ),
    expect: { status: 400, code: 'malformed_request' },
  },
  {
    name: 'obfuscated Transfer-Encoding',
    send: (h) =>
      raw(
        h,
        `POST /v1/sub-accounts HTTP/1.1\r\nHost: ${host(h)}\r\nAuthorization: Bearer ${ADMIN_KEY}\r\nContent-Type: application/json\r\nTransfer-Encoding : chunked\r\n\r\nd\r\n{"name":"x"}\r\n0\r\n\r\n`,
      ),
    expect: { status: 400, code: 'malformed_request' },
  },
  {
    name: 'bare CR inside a header value (CRLF injection)',
    send: (h) =>
      raw(
        h,
        `POST /v1/sub-accounts HTTP/1.1\r\nHost: ${host(h)}\r\nX-Note: a\rX-Injected: 1\r\nAuthorization: Bearer ${ADMIN_KEY}\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{"name":"x"}`,
      ),
    expect: { status: 400, code: 'malformed_request' },
  },
  {
    name: 'bad chunk size',
    send: (h) =>
      raw(
        h,
        `POST /v1/sub-accounts HTTP/1.1\r\nHost: ${host(h)}\r\nAuthorization: Bearer ${ADMIN_KEY}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{"name":"x"}\r\n0\r\n\r\n`,
      ),
    expect: { status: 400, code: 'malformed_request' },
  },
  {
    name: '64 KB of headers',
    send: (h) =>
      raw(
        h,
        `GET /v1/sub-accounts HTTP/1.1\r\nHost: ${host(h)}\r\nAuthorization: Bearer ${ADMIN_KEY}\r\nX-Pad: ${'p'.repeat(64 * 1024)}\r\n\r\n`,
      ),
    expect: { status: 431, code: 'headers_too_large' },
  },
  {
    name: 'a 64 KB request URL',
    send: (h) =>
      raw(
        h,
        `GET /v1/sub-accounts?x=${'u'.repeat(64 * 1024)} HTTP/1.1\r\nHost: ${host(h)}\r\n\r\n`,
      ),
    expect: { status: 431, code: 'headers_too_large' },
  },
  // GraphQL.
  {
    name: 'GraphQL: 12-deep selection',
    send: (h) =>
      gqlPost(h, {
        query: `{ ${'subAccounts { ... on SubAccountConnection { edges { node { '.repeat(1)}${'workspace { '.repeat(12)}id${' }'.repeat(12)} } } } } }`,
      }),
    expect: { status: 400, gql: 'GRAPHQL_VALIDATION_FAILED' },
  },
  {
    name: 'GraphQL: 60 aliases of one field',
    send: (h) =>
      gqlPost(h, {
        query: `{ ${Array.from({ length: 60 }, (_, i) => `a${i}: workspace { id }`).join(' ')} }`,
      }),
    expect: { status: 400, gql: 'QUERY_TOO_COMPLEX' },
  },
  {
    name: 'GraphQL: 600 fields through a repeated fragment',
    send: (h) =>
      gqlPost(h, {
        query: `fragment F on Workspace { id name ${Array.from({ length: 10 }, (_, i) => `f${i}: name`).join(' ')} } { workspace { ${Array.from({ length: 50 }, () => '...F').join(' ')} } }`,
      }),
    expect: { status: 400, gql: 'QUERY_TOO_COMPLEX' },
  },
  {
    name: 'GraphQL: query text over 32 KiB',
    send: (h) => gqlPost(h, { query: `{ workspace { id } } ${'#'.repeat(40 * 1024)}` }),
    expect: { status: 400, gql: 'QUERY_TOO_LARGE' },
  },
  {
    name: 'GraphQL: more than 5 000 tokens',
    send: (h) => gqlPost(h, { query: `{ workspace { ${'id '.repeat(6_000)} } }` }),
    expect: { status: 400, gql: 'GRAPHQL_PARSE_FAILED' },
  },
  {
    name: 'GraphQL: a batch of operations',
    send: (h) =>
      gqlPost(h, [
        { query: 'mutation { createSubAccount(input: { name: "b1" }) { __typename } }' },
        { query: 'mutation { createSubAccount(input: { name: "b2" }) { __typename } }' },
      ]),
    expect: { status: 400, gql: 'BAD_REQUEST' },
  },
  {
    name: 'GraphQL: syntax error',
    send: (h) => gqlPost(h, { query: 'mutation { createSubAccount(input: { name: "x" ' }),
    expect: { status: 400, gql: 'GRAPHQL_PARSE_FAILED' },
  },
  {
    name: 'GraphQL: mutation over GET',
    send: (h) =>
      h.raw(
        'GET',
        `/graphql?query=${encodeURIComponent('mutation { createSubAccount(input: { name: "g" }) { __typename } }')}`,
        {
          headers: { authorization: `Bearer ${ADMIN_KEY}`, accept: 'application/json' },
        },
      ),
    expect: { status: 405, gql: 'BAD_REQUEST' },
  },
  {
    name: 'GraphQL: invalid UTF-8 in the body',
    send: (h) =>
      fetch(`${h.url}/graphql`, {
        method: 'POST',
        headers: JSON_HEADERS,
        body: Buffer.concat([
          Buffer.from('{"query":"mutation { createSubAccount(input: { name: \\"'),
          Buffer.from([0xff, 0xfe]),
          Buffer.from('\\" }) { __typename } }"}'),
        ]),
      }).then(async (r) => ({ status: r.status, headers: r.headers, body: await r.json() })),
    expect: { status: 400, gql: 'BAD_REQUEST' },
  },
  {
    name: 'GraphQL: a variable of the wrong type',
    send: (h) =>
      gqlPost(h, {
        query: 'mutation($n: String!) { createSubAccount(input: { name: $n }) { __typename } }',
        variables: { n: { $gt: '' } },
      }),
    expect: { status: 400, gql: 'BAD_USER_INPUT' },
  },
  {
    name: 'GraphQL: __proto__ inside an input object',
    send: (h) =>
      gqlPost(h, {
        query:
          'mutation($i: CreateSubAccountInput!) { createSubAccount(input: $i) { __typename } }',
        variables: JSON.parse('{"i":{"name":"x","__proto__":{"status":"deleted"}}}'),
      }),
    expect: { status: 400, gql: 'BAD_USER_INPUT' },
  },
  {
    name: 'GraphQL: NUL characters in a name',
    send: (h) =>
      gqlPost(h, {
        query: 'mutation { createSubAccount(input: { name: "a\\u0000b" }) { __typename } }',
      }),
    expect: { typed: 'ValidationError', field: 'createSubAccount' },
  },
  {
    name: "GraphQL: another workspace's sub-account by id",
    send: (h, ids) =>
      gqlPost(h, {
        query: `{ subAccount(id: "${ids.otherSa}") { __typename ... on SubAccount { name } } }`,
      }),
    expect: { typed: 'NotFoundError', field: 'subAccount' },
  },
  {
    name: "GraphQL: update another workspace's sub-account",
    send: (h, ids) =>
      gqlPost(h, {
        query: `mutation { updateSubAccount(id: "${ids.otherSa}", input: { name: "pwned" }) { __typename } }`,
      }),
    expect: { typed: 'NotFoundError', field: 'updateSubAccount' },
  },
  {
    name: 'GraphQL: injection string as an id',
    send: (h) =>
      gqlPost(h, {
        query: `mutation { updateSubAccount(id: "' OR 1=1 --", input: { name: "pwned" }) { __typename } }`,
      }),
    expect: { typed: 'NotFoundError', field: 'updateSubAccount' },
  },
];

describe.each(KINDS)('hostile input on the admin API (%s)', (kind) => {
  let h: Harness;
  let ids: Ids;
  beforeAll(async () => {
    if (skipKind(kind)) return;
    h = await startHarness(kind);
    const mine = await h.api('POST', '/v1/sub-accounts', { name: 'target', spend_cap_cents: 100 });
    const other = await h.api('POST', '/v1/workspaces', { name: `other-${kind}` }, ROOT_KEY);
    const otherKey: string = other.body.admin_key;
    const theirs = await h.api('POST', '/v1/sub-accounts', { name: 'theirs' }, otherKey);
    const budget = await h.api(
      'POST',
      '/v1/budgets',
      { tag: 'theirs', monthly_cap_cents: 5 },
      otherKey,
    );
    const pk = await h.api(
      'POST',
      '/v1/provider-keys',
      { provider: 'openai', api_key: 'sk-their-provider-key-1234' },
      otherKey,
    );
    const keys = await h.prisma.subAccountKey.findMany({ where: { subAccountId: theirs.body.id } });
    ids = {
      sa: mine.body.id,
      otherSa: theirs.body.id,
      otherKeyId: keys[0]!.id,
      otherBudget: budget.body.id,
      otherPk: pk.body.id,
      otherKey,
      subKey: mine.body.key,
    };
    for (const r of [mine, other, theirs, budget, pk]) expect(r.status).toBe(201);
  });
  afterAll(async () => h?.close());

  it('has at least 50 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(50);
  });

  it.each(cases.map((c) => [c.name, c] as const))(
    '%s: clear 4xx, nothing changed',
    async (_name, c) => {
      if (skipKind(kind)) return;
      const before = await rowCounts(h.prisma);
      const rows = async () =>
        JSON.stringify(
          await h.prisma.subAccount.findMany({ orderBy: { id: 'asc' }, include: { keys: true } }),
          (_k, v) => (typeof v === 'bigint' ? v.toString() : v),
        );
      const rowsBefore = await rows();
      const a = await c.send(h, ids);
      const e = c.expect;
      if ('typed' in e) {
        expect(a.status).toBe(200);
        expect(a.body.errors).toBeUndefined();
        expect(a.body.data[e.field].__typename).toBe(e.typed);
      } else if ('gql' in e) {
        expect(a.status).toBe(e.status);
        expect(a.body.errors?.[0]?.extensions?.code).toBe(e.gql);
        expect(typeof a.body.errors[0].message).toBe('string');
        expect(a.body.data ?? null).toBeNull();
      } else {
        expect(a.status).toBe(e.status);
        expect(a.body.error).toMatchObject({ code: e.code, type: expect.any(String) });
        expect(a.body.error.message.length).toBeGreaterThan(0);
        expect(a.body.error).toHaveProperty('param');
      }
      expect(await rowCounts(h.prisma)).toEqual(before);
      expect(await rows()).toBe(rowsBefore);
    },
  );

  it('a cross-workspace id is indistinguishable from a missing one', async () => {
    if (skipKind(kind)) return;
    const fake = `${ids.otherSa.slice(0, 3)}${'0'.repeat(ids.otherSa.length - 3)}`;
    for (const [method, path] of [
      ['GET', (id: string) => `/v1/sub-accounts/${id}`],
      ['DELETE', (id: string) => `/v1/sub-accounts/${id}`],
      ['GET', (id: string) => `/v1/sub-accounts/${id}/usage?window=24h`],
    ] as const) {
      const theirs = await h.api(method, path(ids.otherSa));
      const missing = await h.api(method, path(fake));
      expect(theirs.status).toBe(404);
      expect(JSON.stringify(theirs.body).replaceAll(ids.otherSa, 'ID')).toBe(
        JSON.stringify(missing.body).replaceAll(fake, 'ID'),
      );
    }
  });
});
