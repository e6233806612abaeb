import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, type Harness, rowCounts, startHarness } from './harness.ts';

const JSON_HEADERS = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };

/** `{"metadata":{"a":{"a":…1…}}}`: metadata nested `depth` levels below the body. */
const nested = (depth: number) =>
  `{"name":"x","metadata":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`;

/**
 * A refused admin call says what is wrong in the user's terms: the field as the API names it, then
 * a plain predicate with the schema's real bound ("rate_limit_rpm must be at most 1000000000"),
 * never zod's or the money library's wording — and changes nothing.
 */
describe('validation messages of the admin API', () => {
  let h: Harness;
  let saId: string;
  beforeAll(async () => {
    h = await startHarness('pglite');
    saId = (await h.api('POST', '/v1/sub-accounts', { name: 'target' })).body.id;
  });
  afterAll(async () => h?.close());

  /** `{sa}` in a path is the sub-account made before. */
  type Case = [method: string, path: string, body: string | undefined, message: string];
  const SA = '/v1/sub-accounts';
  const cases: [param: string | null, Case][] = [
    // Zod's "Invalid input: expected number, received undefined".
    [
      'output_per_mtok_cents',
      [
        'POST',
        '/v1/prices',
        '{"model":"openai/x","input_per_mtok_cents":1}',
        'output_per_mtok_cents is required',
      ],
    ],
    // "…expected number, received NaN" (the query string's "abc"); integers in a query string are
    // decimal digits, not what else Number() reads (`1e30`, `0x10`).
    [
      'limit',
      [
        'GET',
        '/v1/sub-accounts?limit=abc',
        undefined,
        'limit must be a whole number written in decimal digits (like 20)',
      ],
    ],
    [
      'limit',
      [
        'GET',
        '/v1/sub-accounts?limit=1e30',
        undefined,
        'limit must be a whole number written in decimal digits (like 20)',
      ],
    ],
    [
      'limit',
      ['GET', `/v1/sub-accounts?limit=1${'0'.repeat(30)}`, undefined, 'limit must be at most 200'],
    ],
    // "expected int to be <9007199254740991": the schema's own maximum instead.
    [
      'rate_limit_rpm',
      [
        'POST',
        SA,
        '{"name":"x","rate_limit_rpm":1e30}',
        'rate_limit_rpm must be at most 1000000000',
      ],
    ],
    [
      'expires_in_seconds',
      [
        'POST',
        '/v1/sub-accounts/{sa}/keys',
        '{"expires_in_seconds":1e20}',
        'expires_in_seconds must be at most 315360000',
      ],
    ],
    // "micros exceeds Number.MAX_SAFE_INTEGER": the largest amount in cents instead.
    [
      'spend_cap_cents',
      [
        'POST',
        SA,
        '{"name":"x","spend_cap_cents":1e30}',
        'spend_cap_cents must be at most 900719925474.0991',
      ],
    ],
    [
      'spend_cap_cents',
      [
        'PATCH',
        '/v1/workspace',
        '{"spend_cap_cents":900719925474.0992}',
        'spend_cap_cents must be at most 900719925474.0991',
      ],
    ],
    [
      'input_per_mtok_cents',
      [
        'POST',
        '/v1/prices',
        '{"model":"openai/x","input_per_mtok_cents":1e30,"output_per_mtok_cents":1}',
        'input_per_mtok_cents must be at most 900719925474.0991',
      ],
    ],
    [
      'spend_cap_cents',
      [
        'POST',
        SA,
        '{"name":"x","spend_cap_cents":1.00001}',
        'spend_cap_cents may have at most 4 decimals',
      ],
    ],
    [
      'spend_cap_cents',
      ['POST', SA, '{"name":"x","spend_cap_cents":-1}', 'spend_cap_cents must not be negative'],
    ],
    // "unknown field 'foo'" of a query parameter.
    ['foo', ['GET', '/v1/sub-accounts?foo=1', undefined, "unknown query parameter 'foo'"]],
    [
      'external_idd',
      [
        'GET',
        '/v1/sub-accounts?external_idd=1',
        undefined,
        "unknown query parameter 'external_idd'",
      ],
    ],
    // A route that takes no query parameters refuses every one (it used to ignore them).
    ['foo', ['GET', '/v1/prices?foo=1', undefined, "unknown query parameter 'foo'"]],
    ['x', ['GET', '/v1/workspace?x=1', undefined, "unknown query parameter 'x'"]],
    ['limit', ['GET', '/v1/admin-keys?limit=5', undefined, "unknown query parameter 'limit'"]],
    // A body field the API does not take stays an unknown field.
    ['spend_cap', ['POST', SA, '{"name":"x","spend_cap":5}', "unknown field 'spend_cap'"]],
    ['metadata', ['POST', SA, nested(40), 'metadata is nested deeper than 32 levels']],
    [
      'name',
      [
        'POST',
        SA,
        '{"name":"\\ud800"}',
        'name must be valid Unicode text (no unpaired surrogates such as \\ud800)',
      ],
    ],
    // Zod's other wordings, as plain predicates.
    [
      'markup_percent',
      ['PATCH', '/v1/workspace', '{"markup_percent":1500}', 'markup_percent must be at most 1000'],
    ],
    [
      'markup_percent',
      [
        'PATCH',
        '/v1/workspace',
        '{"markup_percent":1.234}',
        'markup_percent may have at most 2 decimals',
      ],
    ],
    ['name', ['POST', SA, '{"name":""}', 'name must not be empty']],
    [
      'budget_period',
      [
        'POST',
        SA,
        '{"name":"x","budget_period":"yearly"}',
        'budget_period must be one of monthly, daily, weekly, total',
      ],
    ],
    [
      'spend_cap_cents',
      ['POST', SA, '{"name":"x","spend_cap_cents":"500"}', 'spend_cap_cents must be a number'],
    ],
    [
      'rate_limit_rpm',
      ['POST', SA, '{"name":"x","rate_limit_rpm":1.5}', 'rate_limit_rpm must be a whole number'],
    ],
    [
      'rate_limit_rpm',
      ['POST', SA, '{"name":"x","rate_limit_rpm":0}', 'rate_limit_rpm must be at least 1'],
    ],
    [
      'byok_waives_markup',
      [
        'PATCH',
        '/v1/workspace',
        '{"byok_waives_markup":"yes"}',
        'byok_waives_markup must be true or false',
      ],
    ],
    [
      'allowed_models',
      [
        'POST',
        SA,
        '{"name":"x","allowed_models":"openai/gpt-4o"}',
        'allowed_models must be a list',
      ],
    ],
    ['metadata', ['POST', SA, '{"name":"x","metadata":[1]}', 'metadata must be an object']],
    // A schema's own message stays, behind the field's name.
    [
      'allowed_models.0',
      [
        'POST',
        SA,
        '{"name":"x","allowed_models":["gpt-4o"]}',
        "allowed_models.0: models are named 'provider/model'",
      ],
    ],
    // The body itself.
    [null, ['POST', SA, '{"name":"x",', 'request body is not valid JSON']],
  ];

  for (const [param, [method, path, body, message]] of cases) {
    it(`${method} ${path} ${body ?? ''} → ${message}`, async () => {
      const before = await rowCounts(h.prisma);
      const r = await h.raw(method, path.replace('{sa}', saId), { body, headers: JSON_HEADERS });
      expect(r.status).toBe(400);
      expect(r.body.error).toEqual({
        message,
        type: 'invalid_request_error',
        code: param === null ? 'invalid_json' : 'validation_error',
        param,
      });
      expect(await rowCounts(h.prisma)).toEqual(before);
    });
  }

  it('says a body that is not UTF-8 as such', async () => {
    const before = await rowCounts(h.prisma);
    const r = await fetch(`${h.url}/v1/sub-accounts`, {
      method: 'POST',
      headers: JSON_HEADERS,
      body: Buffer.from([...Buffer.from('{"name":"'), 0xff, ...Buffer.from('"}')]),
    });
    expect(r.status).toBe(400);
    expect((await r.json()).error).toMatchObject({
      message: 'request body is not valid UTF-8',
      code: 'invalid_json',
    });
    expect(await rowCounts(h.prisma)).toEqual(before);
  });

  it('states the true money bound: 900719925474.0991 cents is accepted exactly', async () => {
    const r = await h.api('PATCH', '/v1/workspace', { spend_cap_cents: 900719925474.0991 });
    expect(r.status).toBe(200);
    expect(r.body.spend_cap_cents).toBe(900719925474.0991);
    expect((await h.api('PATCH', '/v1/workspace', { spend_cap_cents: null })).status).toBe(200);
  });

  it('says the same in GraphQL, naming the camelCase field', async () => {
    const before = await rowCounts(h.prisma);
    const ERR = '__typename ... on ValidationError { message field }';
    const cap = await h.gql(
      `mutation { createSubAccount(input: { name: "x", spendCapCents: 1e30 }) { ${ERR} } }`,
    );
    expect(cap.data.createSubAccount).toEqual({
      __typename: 'ValidationError',
      message: 'spendCapCents must be at most 900719925474.0991',
      field: 'spendCapCents',
    });
    const markup = await h.gql(
      `mutation { updateWorkspace(input: { markupPercent: 1500 }) { ${ERR} } }`,
    );
    expect(markup.data.updateWorkspace).toEqual({
      __typename: 'ValidationError',
      message: 'markupPercent must be at most 1000',
      field: 'markupPercent',
    });
    const price = await h.gql(
      `mutation { setPrice(model: "openai/x", inputPerMtokCents: 1, outputPerMtokCents: -1) { ${ERR} } }`,
    );
    expect(price.data.setPrice).toEqual({
      __typename: 'ValidationError',
      message: 'outputPerMtokCents must not be negative',
      field: 'outputPerMtokCents',
    });
    const name = await h.gql(
      `mutation($name: String!) { createSubAccount(input: { name: $name }) { ${ERR} } }`,
      { name: 'a\ud800b' },
    );
    expect(name.data.createSubAccount).toEqual({
      __typename: 'ValidationError',
      message: 'name must be valid Unicode text (no unpaired surrogates such as \\ud800)',
      field: 'name',
    });
    expect(await rowCounts(h.prisma)).toEqual(before);
  });
});
