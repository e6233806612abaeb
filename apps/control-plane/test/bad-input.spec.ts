import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, type Harness, KINDS, rowCounts, skipKind, startHarness } from './harness.ts';

const JSON_HEADERS = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };

/**
 * Every refused admin call answers a 4xx in the documented envelope and writes nothing: the row
 * counts of every admin table (audit log included) are the same before and after.
 */
describe.each(KINDS)('bad input on the REST façade (%s)', (kind) => {
  let h: Harness;
  let saId: string;
  beforeAll(async () => {
    if (skipKind(kind)) return;
    h = await startHarness(kind);
    saId = (await h.api('POST', '/v1/sub-accounts', { name: 'target' })).body.id;
    expect(
      (await h.api('POST', '/v1/budgets', { tag: 'taken', monthly_cap_cents: 5 })).status,
    ).toBe(201);
  });
  afterAll(async () => h?.close());

  type Case = [
    name: string,
    method: string,
    path: () => string,
    body: string | undefined,
    status: number,
    param?: string,
  ];
  const cases: Case[] = [
    ['malformed JSON', 'POST', () => '/v1/sub-accounts', '{"name": "x",', 400],
    ['JSON array body', 'POST', () => '/v1/sub-accounts', '[{"name":"x"}]', 400],
    ['JSON string body', 'POST', () => '/v1/sub-accounts', '"acme"', 400],
    ['empty body', 'POST', () => '/v1/sub-accounts', '', 400],
    ['missing name', 'POST', () => '/v1/sub-accounts', '{"spend_cap_cents": 100}', 400, 'name'],
    ['empty name', 'POST', () => '/v1/sub-accounts', '{"name": ""}', 400, 'name'],
    ['name of the wrong type', 'POST', () => '/v1/sub-accounts', '{"name": 42}', 400, 'name'],
    [
      'negative cap',
      'POST',
      () => '/v1/sub-accounts',
      '{"name":"x","spend_cap_cents":-1}',
      400,
      'spend_cap_cents',
    ],
    [
      'cap with 5 decimals',
      'POST',
      () => '/v1/sub-accounts',
      '{"name":"x","spend_cap_cents":1.00001}',
      400,
      'spend_cap_cents',
    ],
    [
      'cap as a string',
      'POST',
      () => '/v1/sub-accounts',
      '{"name":"x","spend_cap_cents":"500"}',
      400,
      'spend_cap_cents',
    ],
    [
      'fractional rpm',
      'POST',
      () => '/v1/sub-accounts',
      '{"name":"x","rate_limit_rpm":1.5}',
      400,
      'rate_limit_rpm',
    ],
    [
      'zero rpm',
      'POST',
      () => '/v1/sub-accounts',
      '{"name":"x","rate_limit_rpm":0}',
      400,
      'rate_limit_rpm',
    ],
    [
      'unknown field',
      'POST',
      () => '/v1/sub-accounts',
      '{"name":"x","spend_cap":5}',
      400,
      'spend_cap',
    ],
    [
      'camelCase field on the snake_case API',
      'POST',
      () => '/v1/sub-accounts',
      '{"name":"x","spendCapCents":5}',
      400,
      'spendCapCents',
    ],
    [
      'bad budget period',
      'POST',
      () => '/v1/sub-accounts',
      '{"name":"x","budget_period":"hourly"}',
      400,
      'budget_period',
    ],
    [
      'model without provider',
      'POST',
      () => '/v1/sub-accounts',
      '{"name":"x","allowed_models":["gpt-4o"]}',
      400,
    ],
    [
      'unknown model in the allow-list',
      'POST',
      () => '/v1/sub-accounts',
      '{"name":"x","allowed_models":["openai/no-such-model"]}',
      400,
      'allowed_models',
    ],
    [
      'tampered cursor',
      'GET',
      () => '/v1/sub-accounts?cursor=eyJpZCI6InNhX3gifQ.forged',
      undefined,
      400,
      'cursor',
    ],
    [
      'tag with a space',
      'POST',
      () => '/v1/sub-accounts',
      '{"name":"x","default_tag":"a b"}',
      400,
      'default_tag',
    ],
    [
      'metadata not an object',
      'POST',
      () => '/v1/sub-accounts',
      '{"name":"x","metadata":[1,2]}',
      400,
      'metadata',
    ],
    [
      'patch with a bad status',
      'PATCH',
      () => `/v1/sub-accounts/${saId}`,
      '{"status":"deleted"}',
      400,
      'status',
    ],
    [
      'patch with an unknown field',
      'PATCH',
      () => `/v1/sub-accounts/${saId}`,
      '{"id":"sa_other"}',
      400,
    ],
    [
      'patch of a missing sub-account',
      'PATCH',
      () => '/v1/sub-accounts/sa_missing',
      '{"name":"y"}',
      404,
    ],
    [
      'key with negative expiry',
      'POST',
      () => `/v1/sub-accounts/${saId}/keys`,
      '{"expires_in_seconds":-5}',
      400,
      'expires_in_seconds',
    ],
    [
      'revoke a missing key',
      'DELETE',
      () => `/v1/sub-accounts/${saId}/keys/key_missing`,
      undefined,
      404,
    ],
    ['budget without a cap', 'POST', () => '/v1/budgets', '{"tag":"t1"}', 400],
    [
      'budget on a taken tag',
      'POST',
      () => '/v1/budgets',
      '{"tag":"taken","monthly_cap_cents":1}',
      409,
    ],
    [
      'price without provider',
      'POST',
      () => '/v1/prices',
      '{"model":"gpt","input_per_mtok_cents":1,"output_per_mtok_cents":1}',
      400,
      'model',
    ],
    [
      'negative price',
      'POST',
      () => '/v1/prices',
      '{"model":"a/b","input_per_mtok_cents":-1,"output_per_mtok_cents":1}',
      400,
    ],
    [
      'provider key without a key',
      'POST',
      () => '/v1/provider-keys',
      '{"provider":"openai"}',
      400,
      'api_key',
    ],
    [
      'provider key with a non-http base url',
      'POST',
      () => '/v1/provider-keys',
      '{"provider":"x","api_key":"sk-a-long-enough-provider-key","base_url":"file:///etc/passwd"}',
      400,
      'base_url',
    ],
    [
      'provider key with an api_version but no azure kind',
      'POST',
      () => '/v1/provider-keys',
      '{"provider":"az","api_key":"sk-a-long-enough-provider-key","api_version":"2024-10-21"}',
      400,
      'api_version',
    ],
    [
      'provider key with a malformed azure api_version',
      'POST',
      () => '/v1/provider-keys',
      '{"provider":"az","api_key":"sk-a-long-enough-provider-key","kind":"azure","api_version":"v1"}',
      400,
      'api_version',
    ],
    [
      'provider key with an unknown kind',
      'POST',
      () => '/v1/provider-keys',
      '{"provider":"az","api_key":"sk-a-long-enough-provider-key","kind":"bedrock"}',
      400,
      'kind',
    ],
    [
      'webhook with an unknown event',
      'POST',
      () => '/v1/webhooks',
      '{"url":"https://e.example.com","events":["nope"]}',
      400,
    ],
    [
      'webhook with a bad url',
      'POST',
      () => '/v1/webhooks',
      '{"url":"not a url","events":["sub_account.created"]}',
      400,
      'url',
    ],
    [
      'usage with a bad window',
      'GET',
      () => `/v1/sub-accounts/${saId}/usage?window=forever`,
      undefined,
      400,
      'window',
    ],
    [
      'by-tag with a bad month',
      'GET',
      () => '/v1/usage/by-tag?month=2026-13',
      undefined,
      400,
      'month',
    ],
    ['limit out of range', 'GET', () => '/v1/sub-accounts?limit=100000', undefined, 400, 'limit'],
    [
      'workspace markup with 3 decimals',
      'PATCH',
      () => '/v1/workspace',
      '{"markup_percent":1.234}',
      400,
      'markup_percent',
    ],
    ['wrong method', 'PUT', () => '/v1/sub-accounts', '{}', 405],
    ['unknown route', 'GET', () => '/v1/nothing-here', undefined, 404],
  ];

  it.skipIf(skipKind(kind))(`has at least 20 cases (${cases.length})`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });

  for (const [name, method, path, body, status, param] of cases) {
    it.skipIf(skipKind(kind))(`${name} → ${status}, nothing written`, async () => {
      const before = await rowCounts(h.prisma);
      const targetBefore = await h.prisma.subAccount.findUniqueOrThrow({ where: { id: saId } });
      const r = await h.raw(method, path(), { body, headers: JSON_HEADERS });
      expect(r.status).toBe(status);
      expect(r.headers.get('content-type')).toMatch(/^application\/json/);
      const { param: gotParam, allow: _allow, ...envelope } = r.body.error;
      expect(envelope).toEqual({
        message: expect.any(String),
        type: expect.any(String),
        code: expect.any(String),
      });
      if (param !== undefined) expect(gotParam).toBe(param);
      else expect(gotParam === null || typeof gotParam === 'string').toBe(true);
      expect(r.body.error.message.length).toBeGreaterThan(5);
      expect(await rowCounts(h.prisma)).toEqual(before);
      expect(await h.prisma.subAccount.findUniqueOrThrow({ where: { id: saId } })).toEqual(
        targetBefore,
      );
    });
  }

  it.skipIf(skipKind(kind))('refuses a body over 1 MiB with 413 and writes nothing', async () => {
    const before = await rowCounts(h.prisma);
    const huge = JSON.stringify({ name: 'x', metadata: { blob: 'x'.repeat(1_100_000) } });
    const r = await h.raw('POST', '/v1/sub-accounts', { body: huge, headers: JSON_HEADERS });
    expect(r.status).toBe(413);
    expect(r.body.error.type).toBe('invalid_request_error');
    expect(await rowCounts(h.prisma)).toEqual(before);
  });
});
