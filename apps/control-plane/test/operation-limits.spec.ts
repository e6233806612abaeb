import { openTestDatabase, type TestDatabase } from '@tollgate/testkit';
import { type GraphQLError, parse, specifiedRules, validate } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_QUERY_DEPTH } from '../src/graphql/index.ts';
import {
  DEFAULT_COUNT_LIMITS,
  DEFAULT_PAGE_ESTIMATE,
  MAX_CYCLIC_EXPANSIONS,
  MAX_INTROSPECTION_DEPTH,
  operationLimits,
} from '../src/graphql/operation-limits.ts';
import { schema } from '../src/graphql/schema.ts';
import { type EventPlane, startEventPlane, subscribe, waitFor } from './events-harness.ts';
import { ADMIN_KEY, type Harness, startHarness } from './harness.ts';

/**
 * Each limit of the one operation walk at its edge — just under passes, just over is refused with
 * its code — with fragments and inline fragments counted, and fragment cycles refused without
 * overflowing the stack. Limits: depth 10, introspection depth 20, 30 aliases, 500 fields, cost
 * 20 000 (each field 1, its children times its `first`).
 */
const rule = operationLimits({
  maxDepth: MAX_QUERY_DEPTH,
  maxIntrospectionDepth: MAX_INTROSPECTION_DEPTH,
  counts: DEFAULT_COUNT_LIMITS,
});
const check = (source: string) => validate(schema, parse(source), [...specifiedRules, rule]);
const summary = (errors: readonly GraphQLError[]) =>
  errors.map((e) => ({ message: e.message, extensions: e.extensions }));
const refused = (message: string, code: string) => [
  { message, extensions: { code, http: { status: 400, spec: false } } },
];
const times = (n: number, text: string) => Array.from({ length: n }, () => text).join(' ');

/** Valid against the schema: `__type` then `ofType` × n then `name` is n + 2 deep. */
const introspection = (depth: number) =>
  `{ __type(name: "Query") { ${'ofType { '.repeat(depth - 2)}name${' }'.repeat(depth - 2)} } }`;
/** `n` aliases of one field. */
const aliases = (n: number) => Array.from({ length: n }, (_, i) => `a${i}: workspace { id }`);
/** Cost 1 + 200 × (2 + n), 3 + n fields: sub-accounts' pages multiplied through the nesting. */
const page = (n: number) =>
  `subAccounts(first: 200) { ... on SubAccountConnection { edges { node { ${times(n, 'id')} } } } }`;
/** Cost 1 + first × (2 + n) under alias `s`. */
const smallPage = (first: number, n: number) =>
  `s: subAccounts(first: ${first}) { ... on SubAccountConnection { edges { node { ${times(n, 'id')} } } } }`;

const limitCases = {
  aliases: {
    under: `{ ${aliases(30).join(' ')} }`,
    over: `{ ${aliases(31).join(' ')} }`,
    overMessage: 'the operation uses 31 aliases; at most 30',
  },
  fields: {
    under: `{ workspace { ${times(499, 'id')} } }`,
    over: `{ workspace { ${times(500, 'id')} } }`,
    overMessage: 'the operation selects more than 500 fields',
  },
  cost: {
    // 19 801 + 199 = 20 000, then 19 801 + 200 = 20 001.
    under: `{ ${page(97)} ${smallPage(66, 1)} }`,
    over: `{ ${page(97)} ${smallPage(1, 197)} }`,
    overMessage: "the operation's estimated cost 20001 exceeds 20000",
  },
};

describe('operation limits at their edges (validation)', () => {
  it('depth: 10 passes, 11 is refused, through fragments and inline fragments', () => {
    const nest = (n: number, leaf: string) => `${'a { '.repeat(n)}${leaf}${' }'.repeat(n)}`;
    const only = (source: string) => summary(validate(schema, parse(source), [rule]));
    const viaFragments = (n: number) =>
      `{ a { ...F } } fragment F on Query { ... on Query { ${nest(n - 2, 'b')} } }`;
    expect(only(viaFragments(10))).toEqual([]);
    expect(only(viaFragments(11))).toEqual(
      refused('query depth 11 exceeds the maximum of 10', 'GRAPHQL_VALIDATION_FAILED'),
    );
  });

  it('introspection depth: 20 passes, 21 is refused', () => {
    expect(summary(check(introspection(20)))).toEqual([]);
    expect(summary(check(introspection(21)))).toEqual(
      refused('introspection depth 21 exceeds the maximum of 20', 'GRAPHQL_VALIDATION_FAILED'),
    );
  });

  for (const [limit, c] of Object.entries(limitCases)) {
    it(`${limit}: the limit passes, one more is refused`, () => {
      expect(summary(check(c.under))).toEqual([]);
      expect(summary(check(c.over))).toEqual(refused(c.overMessage, 'QUERY_TOO_COMPLEX'));
    });
  }

  it('a connection asked for without first costs its default page (100), through fragments too', () => {
    const without = (n: number) =>
      `{ subAccounts { ... on SubAccountConnection { edges { node { ${times(n, 'id')} } } } } }`;
    const written = (n: number) =>
      `{ subAccounts(first: ${DEFAULT_PAGE_ESTIMATE}) { ... on SubAccountConnection { edges { node { ${times(n, 'id')} } } } } }`;
    // 1 + 100 × (2 + 197) = 19 901: under; 1 + 100 × (2 + 198) = 20 001: over.
    expect(summary(check(without(197)))).toEqual([]);
    expect(summary(check(without(198)))).toEqual(
      refused("the operation's estimated cost 20001 exceeds 20000", 'QUERY_TOO_COMPLEX'),
    );
    expect(summary(check(written(198)))).toEqual(summary(check(without(198))));
    // The same through a named fragment holding `edges`, and nested connections multiply.
    const viaFragment = `{ subAccounts { ...Page } } fragment Page on SubAccountConnection { edges { node { ${times(198, 'id')} } } }`;
    expect(summary(check(viaFragment))).toEqual(
      refused("the operation's estimated cost 20001 exceeds 20000", 'QUERY_TOO_COMPLEX'),
    );
    const nested = `{ subAccounts(first: 2) { ... on SubAccountConnection { edges { node { keys { ... on SubAccountKeyConnection { edges { node { ${times(98, 'id')} } } } } } } } } }`;
    // 1 + 2 × (1 + 1 + (1 + 100 × (2 + 98))) = 20 007.
    expect(summary(check(nested))).toEqual(
      refused("the operation's estimated cost 20007 exceeds 20000", 'QUERY_TOO_COMPLEX'),
    );
  });

  it('counts fragments at every spread, and inline fragments', () => {
    const ten = Array.from({ length: 10 }, (_, i) => `f${i}: id`).join(' ');
    const doc = (extra: string) =>
      `{ workspace { ...F ...F ...F ${extra} } } fragment F on Workspace { ${ten} }`;
    expect(summary(check(doc('')))).toEqual([]); // 30 aliases
    expect(summary(check(doc('... on Workspace { g: id }')))).toEqual(
      refused('the operation uses 31 aliases; at most 30', 'QUERY_TOO_COMPLEX'),
    );
    // 1 + 2 × 249 + 1 fields, then 1 + 2 × 250.
    const fields = (n: number, extra: string) =>
      `{ workspace { ...G ... on Workspace { ...G } ${extra} } } fragment G on Workspace { ${times(n, 'id')} }`;
    expect(summary(check(fields(249, 'name')))).toEqual([]);
    expect(summary(check(fields(250, '')))).toEqual(
      refused('the operation selects more than 500 fields', 'QUERY_TOO_COMPLEX'),
    );
  });

  it('refuses fragment cycles (NoFragmentCyclesRule) without overflowing the stack', () => {
    const self = check('{ workspace { ...A } } fragment A on Workspace { id ...A }');
    expect(self.map((e) => e.message)).toEqual(['Cannot spread fragment "A" within itself.']);
    const pair = check(
      '{ workspace { ...A } } fragment A on Workspace { id ...B } fragment B on Workspace { name ...A }',
    );
    expect(pair.map((e) => e.message)).toEqual([
      'Cannot spread fragment "A" within itself via "B".',
    ]);
    // A cycle whose every path is walked again: refused after a bounded number of walks.
    const fanOut = Array.from(
      { length: 30 },
      (_, i) => `fragment C${i} on Query { ...C${i + 1} ...C${i + 1} ...C0 }`,
    ).join(' ');
    const started = performance.now();
    const errors = summary(check(`{ ...C0 } ${fanOut} fragment C30 on Query { __typename }`));
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(errors).toContainEqual(
      refused(
        `the operation expands fragments more than ${MAX_CYCLIC_EXPANSIONS} times`,
        'QUERY_TOO_COMPLEX',
      )[0],
    );
  });

  it('measures a fragment met along 2^26 paths once, not 2^26 times', () => {
    // Nothing is counted (only `__typename`), so no limit stops the walk: it must not repeat.
    const chain = Array.from(
      { length: 26 },
      (_, i) => `fragment D${i} on Query { ...D${i + 1} ...D${i + 1} }`,
    ).join(' ');
    const started = performance.now();
    expect(check(`{ ...D0 } ${chain} fragment D26 on Query { __typename }`)).toEqual([]);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe('operation limits over HTTP (yoga)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('pglite');
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  const post = async (query: string) => {
    const res = await h.raw('POST', '/graphql', {
      body: JSON.stringify({ query }),
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    });
    return res;
  };

  it('introspection depth: 20 answers, 21 is a 400', async () => {
    const under = await post(introspection(20));
    expect(under.status).toBe(200);
    expect(under.body.errors).toBeUndefined();
    expect(under.body.data.__type.ofType).toBeNull();
    const over = await post(introspection(21));
    expect(over.status).toBe(400);
    expect(over.body.errors[0]).toMatchObject({
      message: 'introspection depth 21 exceeds the maximum of 20',
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
  });

  it('status by Accept (README): schema validation errors are 200 for application/json, 400 for GraphQL over HTTP', async () => {
    const send = async (query: string, accept: string) => {
      const res = await h.raw('POST', '/graphql', {
        body: JSON.stringify({ query }),
        headers: {
          authorization: `Bearer ${ADMIN_KEY}`,
          'content-type': 'application/json',
          accept,
        },
      });
      return [res.status, res.body.errors?.[0]?.extensions?.code];
    };
    const json = 'application/json';
    const gqlHttp = 'application/graphql-response+json';
    // A field the schema does not have: graphql-yoga's legacy answer is 200 with `errors`.
    expect(await send('{ nope }', json)).toEqual([200, 'GRAPHQL_VALIDATION_FAILED']);
    expect(await send('{ nope }', gqlHttp)).toEqual([400, 'GRAPHQL_VALIDATION_FAILED']);
    // The operation limits and parse errors are 400 either way.
    for (const accept of [json, gqlHttp]) {
      expect(await send(limitCases.aliases.over, accept)).toEqual([400, 'QUERY_TOO_COMPLEX']);
      expect(await send(introspection(21), accept)).toEqual([400, 'GRAPHQL_VALIDATION_FAILED']);
      expect(await send('{ workspace { ', accept)).toEqual([400, 'GRAPHQL_PARSE_FAILED']);
    }
  });

  for (const [limit, c] of Object.entries(limitCases)) {
    it(`${limit}: the limit answers, one more is a 400 QUERY_TOO_COMPLEX`, async () => {
      const under = await post(c.under);
      expect(under.status).toBe(200);
      expect(under.body.errors).toBeUndefined();
      const over = await post(c.over);
      expect(over.status).toBe(400);
      expect(over.body.errors).toEqual([
        expect.objectContaining({
          message: c.overMessage,
          extensions: { code: 'QUERY_TOO_COMPLEX' },
        }),
      ]);
    });
  }
});

describe('operation limits over graphql-ws', () => {
  let t: TestDatabase;
  let cp: EventPlane;
  beforeAll(async () => {
    t = await openTestDatabase('pglite');
    cp = await startEventPlane({ prisma: t.db.prisma });
  }, 120_000);
  afterAll(async () => {
    await cp?.stop();
    await t?.cleanup();
  });

  it('answers introspection depth 20 and refuses 21 before running it', async () => {
    const under = subscribe(cp.wsUrl, ADMIN_KEY, introspection(20));
    const over = subscribe(cp.wsUrl, ADMIN_KEY, introspection(21));
    await waitFor(() => under.received.length > 0 && over.errors.length > 0);
    expect(under.received[0].__type.ofType).toBeNull();
    expect(over.received).toEqual([]);
    expect(JSON.stringify(over.errors[0])).toContain(
      'introspection depth 21 exceeds the maximum of 20',
    );
    await Promise.all([under.close(), over.close()]);
  });

  it('refuses a subscription nested deeper than 10', async () => {
    const deep = `subscription { budgetEvents { ${'a { '.repeat(9)}b${' }'.repeat(9)} } }`;
    const sub = subscribe(cp.wsUrl, ADMIN_KEY, deep);
    await waitFor(() => sub.errors.length > 0);
    expect(JSON.stringify(sub.errors[0])).toContain('query depth 11 exceeds the maximum of 10');
    await sub.close();
  });

  it('answers a document that does not parse, or has too many tokens, on that operation only: the socket and its other operations go on', async () => {
    const live = subscribe(cp.wsUrl, ADMIN_KEY, 'subscription { budgetEvents { id } }');
    await live.connected;
    const run = (query: string) =>
      new Promise<{ data?: unknown; errors?: unknown }>((resolve) => {
        live.client.subscribe(
          { query },
          {
            next: (value) => resolve({ data: value.data }),
            error: (errors) => resolve({ errors }),
            complete: () => {},
          },
        );
      });
    const broken = await run('subscription { budgetEvents { id ');
    expect(JSON.stringify(broken.errors)).toContain('GRAPHQL_PARSE_FAILED');
    // 5 001 tokens in under 32 KiB.
    const tokens = await run(`{ workspace { ${times(4_996, 'id')} } }`);
    expect(JSON.stringify(tokens.errors)).toContain('more than 5000 tokens');
    // The same socket still answers.
    expect(await run('{ workspace { id } }')).toMatchObject({
      data: { workspace: { id: expect.any(String) } },
    });
    expect(live.errors).toEqual([]);
    await live.close();
  });

  it('counts aliases, fields and cost as over HTTP: just under answers, just over is refused', async () => {
    for (const [name, c] of Object.entries(limitCases)) {
      const under = subscribe(cp.wsUrl, ADMIN_KEY, c.under);
      const over = subscribe(cp.wsUrl, ADMIN_KEY, c.over);
      await waitFor(() => under.received.length > 0 && over.errors.length > 0);
      expect(under.errors, name).toEqual([]);
      expect(over.received, name).toEqual([]);
      expect(JSON.stringify(over.errors[0]), name).toContain(c.overMessage);
      await Promise.all([under.close(), over.close()]);
    }
  });
});
