import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type GraphQLNamedType,
  getIntrospectionQuery,
  isObjectType,
  isUnionType,
  parse,
  specifiedRules,
  validate,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGraphQLHandler } from '../src/graphql/index.ts';
import { MAX_INTROSPECTION_DEPTH, operationLimits } from '../src/graphql/operation-limits.ts';
import { printedSchema, SCHEMA_FILE } from '../src/graphql/print-schema.ts';
import { schema } from '../src/graphql/schema.ts';
import type { Principal } from '../src/lib/authz.ts';
import { AuthenticationError } from '../src/lib/errors.ts';
import type { RestDeps } from '../src/rest/router.ts';

/** The depth limits alone (nothing counted). */
const depthLimit = operationLimits({
  maxDepth: 10,
  maxIntrospectionDepth: MAX_INTROSPECTION_DEPTH,
});

const unionMembers = (name: string) => {
  const type: GraphQLNamedType | undefined = schema.getType(name);
  if (!isUnionType(type)) throw new Error(`${name} is not a union`);
  return type.getTypes().map((t) => t.name);
};

describe('GraphQL schema', () => {
  it('matches the committed SDL (run `pnpm generate` after changing the schema)', () => {
    expect(printedSchema()).toBe(readFileSync(SCHEMA_FILE, 'utf8'));
  });

  it('answers every mutation with a typed error union', () => {
    const mutation = schema.getMutationType()!;
    for (const field of Object.values(mutation.getFields())) {
      const members = unionMembers(
        `Mutation${field.name[0]!.toUpperCase()}${field.name.slice(1)}Result`,
      );
      expect(members, field.name).toEqual(
        expect.arrayContaining(['ValidationError', 'NotFoundError', 'ConflictError']),
      );
    }
    expect(unionMembers('MutationCreateSubAccountResult')).toContain('CreateSubAccountPayload');
    expect(unionMembers('QuerySubAccountResult').sort()).toEqual(['NotFoundError', 'SubAccount']);
    expect(unionMembers('QueryWebhookDeliveriesResult')).toContain('NotFoundError');
  });

  it('exposes money as Float cents and never a BigInt', () => {
    const sdl = printedSchema();
    expect(sdl).not.toMatch(/BigInt|Micros/);
    const subAccount = schema.getType('SubAccount');
    if (!isObjectType(subAccount)) throw new Error('SubAccount missing');
    for (const name of ['spendCapCents', 'spentCents', 'reservedCents']) {
      expect(String(subAccount.getFields()[name]?.type)).toMatch(/^Float!?$/);
    }
  });

  it('has the root fields of SPEC §4', () => {
    expect(Object.keys(schema.getQueryType()!.getFields()).sort()).toEqual(
      [
        // The workspace's own admin keys (beyond SPEC §4: rotation and revocation).
        'adminKeys',
        // One tag budget and one webhook by id, as GET /v1/budgets/{id} and /v1/webhooks/{id}.
        'budget',
        'budgets',
        'plan',
        'plans',
        'prices',
        'providerKeys',
        'subAccount',
        'subAccountLedger',
        'subAccountUsage',
        'subAccounts',
        'usageByTag',
        'webhook',
        'webhookDeliveries',
        'webhooks',
        'workspace',
        'workspaces',
      ].sort(),
    );
  });
});

describe('subscriptions', () => {
  it('has the live fields of SPEC §5', () => {
    expect(Object.keys(schema.getSubscriptionType()!.getFields()).sort()).toEqual([
      'budgetEvents',
      'spendUpdates',
      // The console's workspace-wide spend feed (types/console.ts).
      'workspaceSpendUpdates',
    ]);
  });
});

describe('depth limit', () => {
  const nested = (depth: number) => `{ ${'a { '.repeat(depth - 1)}b${' }'.repeat(depth - 1)} }`;
  const errorsAt = (source: string) => validate(schema, parse(source), [depthLimit]);

  it('accepts depth 10 and refuses depth 11', () => {
    expect(errorsAt(nested(10))).toEqual([]);
    expect(errorsAt(nested(11)).map((e) => e.message)).toEqual([
      'query depth 11 exceeds the maximum of 10',
    ]);
  });

  it('follows fragments and lets the standard introspection query through', () => {
    const viaFragment = `query { ...F } fragment F on Query { ${nested(11).slice(1, -1)} }`;
    expect(errorsAt(viaFragment)).toHaveLength(1);
    expect(
      validate(schema, parse(getIntrospectionQuery()), [...specifiedRules, depthLimit]),
    ).toEqual([]);
  });
});

describe('GraphQL handler access', () => {
  let server: Server;
  let url: string;
  const principals: Record<string, Principal> = {
    'Bearer root': { kind: 'root' },
    'Bearer admin': { kind: 'admin', workspaceId: 'ws_x', keyId: 'ak_x' },
  };
  const logged: string[] = [];
  const deps = {
    prisma: {},
    secretKey: Buffer.alloc(32),
    log: (_level: string, message: string) => logged.push(message),
    authenticator: {
      async authenticate(authorization: string | null | undefined) {
        if (!authorization) return { kind: 'anonymous' };
        const principal = principals[authorization];
        if (!principal) throw new AuthenticationError('invalid admin key');
        return principal;
      },
    },
  } as unknown as RestDeps;

  beforeAll(async () => {
    const handler = createGraphQLHandler(deps);
    server = createServer((req, res) => void handler.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const post = async (query: string, authorization?: string) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      body: JSON.stringify({ query }),
    });
    return {
      status: res.status,
      body: (await res.json()) as {
        errors?: { message: string; extensions?: { code?: string } }[];
      },
    };
  };

  it('denies anonymous and refused keys with UNAUTHENTICATED', async () => {
    const anonymous = await post('{ budgets { __typename } }');
    expect(anonymous.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const refused = await post('{ budgets { __typename } }', 'Bearer nope');
    expect(refused.body.errors?.[0]).toMatchObject({
      message: 'invalid admin key',
      extensions: { code: 'UNAUTHENTICATED' },
    });
  });

  it('answers FORBIDDEN for a key of the wrong kind', async () => {
    const admin = await post('{ workspaces { __typename } }', 'Bearer admin');
    expect(admin.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const root = await post('mutation { deleteBudget(id: "bud_x") { __typename } }', 'Bearer root');
    expect(root.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('masks unexpected errors and logs them', async () => {
    // `prisma: {}` makes the service throw a TypeError: a bug, not an expected outcome.
    const res = await post('{ budgets { __typename } }', 'Bearer admin');
    expect(res.body.errors?.[0]?.message).toBe('Unexpected error.');
    expect(JSON.stringify(res.body)).not.toContain('tagBudget');
    expect(logged).toContain('unexpected error in GraphQL handler');
  });

  it('answers 400 to a query nested too deep', async () => {
    const deep = `{ ${'subAccounts { '.repeat(10)}id${' }'.repeat(10)} }`;
    const res = await post(deep, 'Bearer admin');
    expect(res.status).toBe(400);
    expect(res.body.errors?.map((e) => e.message)).toContain(
      'query depth 11 exceeds the maximum of 10',
    );
  });
});
