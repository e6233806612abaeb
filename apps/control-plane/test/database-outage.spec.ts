import { openDatabase } from '@tollgate/db';
import {
  createPgDatabase,
  freePort,
  startTcpForwarder,
  type TcpForwarder,
  waitUntil,
} from '@tollgate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from '../src/lib/db-errors.ts';
import { ADMIN_KEY, type Harness, skipKind, startHarness } from './harness.ts';

/** A forwarder to the shared PostgreSQL that a test can cut, make hang and restore. */
const startForwarder = () => startTcpForwarder({ port: 5432 });

type Forwarder = TcpForwarder;

const SUB_ACCOUNTS_QUERY =
  '{ subAccounts(first: 5) { ... on SubAccountConnection { edges { node { id } } } } }';

describe.skipIf(skipKind('postgres'))('admin API while PostgreSQL is unreachable', () => {
  let fwd: Forwarder;
  let h: Harness;
  beforeAll(async () => {
    fwd = await startForwarder();
    h = await startHarness('postgres', { databaseUrl: fwd.route, connectTimeoutMs: 1_500 });
  });
  afterAll(async () => {
    if (fwd && !fwd.listening()) await fwd.restore();
    await h?.close();
    await fwd?.close();
  });

  const gqlRaw = async (query: string) => {
    const res = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
      body: JSON.stringify({ query }),
    });
    // biome-ignore lint/suspicious/noExplicitAny: GraphQL answers are checked field by field
    return { status: res.status, headers: res.headers, body: (await res.json()) as any };
  };

  it('REST answers 503 database_unavailable with Retry-After, /readyz not ready; 200 once back', async () => {
    const created = await h.api('POST', '/v1/sub-accounts', { name: 'outage-a' });
    expect(created.status).toBe(201);

    await fwd.cut();
    try {
      // The first calls meet connections cut mid-life, later ones a refused port; authentication
      // itself queries the database, so every admin call fails there first.
      for (const [method, path, body] of [
        ['GET', '/v1/sub-accounts', undefined],
        ['GET', '/v1/sub-accounts', undefined],
        ['GET', `/v1/sub-accounts/${created.body.id}`, undefined],
        ['POST', '/v1/sub-accounts', { name: 'outage-b' }],
      ] as const) {
        const res = await h.api(method, path, body);
        expect(res.status, `${method} ${path}`).toBe(503);
        expect(res.body).toEqual({
          error: {
            message: 'the database is unavailable; try again shortly',
            type: 'server_error',
            code: 'database_unavailable',
            param: null,
          },
        });
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(5);
      }
      const ready = await fetch(`${h.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({
        status: 'not_ready',
        checks: { database: { ok: false } },
      });
    } finally {
      await fwd.restore();
    }

    const back = await h.api('GET', '/v1/sub-accounts');
    expect(back.status).toBe(200);
    expect(back.body.data.map((s: { name: string }) => s.name)).toEqual(['outage-a']);
    expect((await fetch(`${h.url}/readyz`)).status).toBe(200);
  });

  it('GraphQL answers DATABASE_UNAVAILABLE (503, Retry-After); data once back', async () => {
    await fwd.cut();
    try {
      for (let i = 0; i < 2; i++) {
        const res = await gqlRaw(SUB_ACCOUNTS_QUERY);
        expect(res.status).toBe(503);
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(res.body.data ?? null).toBeNull();
        expect(res.body.errors).toEqual([
          {
            message: 'the database is unavailable; try again shortly',
            extensions: { code: 'DATABASE_UNAVAILABLE' },
          },
        ]);
      }
    } finally {
      await fwd.restore();
    }
    const back = await gqlRaw(SUB_ACCOUNTS_QUERY);
    expect(back.status).toBe(200);
    expect(back.body.errors).toBeUndefined();
    expect(back.body.data.subAccounts.edges).toHaveLength(1);
  });

  it('/readyz answers not ready in bounded time when the database accepts but never answers', async () => {
    fwd.hang();
    try {
      // The probe's own query hangs; /readyz must still answer (within its probe timeout).
      const ready = await fetch(`${h.url}/readyz`, { signal: AbortSignal.timeout(10_000) });
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({
        status: 'not_ready',
        checks: { database: { ok: false } },
      });
    } finally {
      fwd.answer();
    }
    await waitUntil('readyz 200', async () => (await fetch(`${h.url}/readyz`)).status === 200);
    expect((await h.api('GET', '/v1/sub-accounts')).status).toBe(200);
  });

  it('a database that stops answering new connections: 503 within the connect timeout, not a hang', async () => {
    // The pool's connections are lost; the ones it opens next are accepted and never answered.
    fwd.dropConnections();
    fwd.hang();
    try {
      const started = Date.now();
      const res = await fetch(`${h.url}/v1/sub-accounts`, {
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
        signal: AbortSignal.timeout(15_000),
      });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
        'database_unavailable',
      );
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      fwd.answer();
    }
    await waitUntil(
      'admin API back',
      async () => (await h.api('GET', '/v1/sub-accounts')).status === 200,
    );
  });

  it('a failing query that is not an outage stays a masked 500 / Unexpected error.', async () => {
    // A real bug-like failure: the table behind budgets is missing (P2021, not a connection error).
    await h.prisma.$executeRawUnsafe('ALTER TABLE "TagBudget" RENAME TO "TagBudget_away"');
    try {
      const rest = await h.api('GET', '/v1/budgets');
      expect(rest.status).toBe(500);
      expect(rest.body).toEqual({
        error: {
          message: 'internal error',
          type: 'server_error',
          code: 'internal_error',
          param: null,
        },
      });
      expect(rest.headers.get('retry-after')).toBeNull();
      const gql = await gqlRaw('{ budgets { __typename } }');
      expect(gql.body.errors).toMatchObject([
        { message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } },
      ]);
      expect(JSON.stringify(gql.body)).not.toContain('TagBudget');
      expect(gql.headers.get('retry-after')).toBeNull();
    } finally {
      await h.prisma.$executeRawUnsafe('ALTER TABLE "TagBudget_away" RENAME TO "TagBudget"');
    }
    expect((await h.api('GET', '/v1/budgets')).status).toBe(200);
  });
});

describe.skipIf(skipKind('postgres'))('isDatabaseUnavailable on what the stack raises', () => {
  const caught = async (run: () => Promise<unknown>) => {
    try {
      await run();
    } catch (err) {
      return err;
    }
    throw new Error('expected a failure');
  };

  it('recognises refused, cut and terminated connections; not constraint or query errors', async () => {
    const database = await createPgDatabase();
    const fwd = await startForwarder();
    const refusedUrl = new URL(database.url);
    refusedUrl.port = String(await freePort());
    const refused = await openDatabase({ databaseUrl: refusedUrl.toString() });
    const db = await openDatabase({ databaseUrl: fwd.route(database.url) });
    try {
      // Refused port: P1001 (model query) and P2010 (raw) carrying DatabaseNotReachable.
      expect(isDatabaseUnavailable(await caught(() => refused.prisma.workspace.count()))).toBe(
        true,
      );
      expect(isDatabaseUnavailable(await caught(() => refused.prisma.$queryRaw`SELECT 1`))).toBe(
        true,
      );

      // Connection cut under a running query: node-postgres' "Connection terminated unexpectedly".
      const sleeping = caught(() => db.prisma.$queryRaw`SELECT pg_sleep(5)`);
      await new Promise((r) => setTimeout(r, 300));
      fwd.dropConnections();
      const cut = await sleeping;
      expect((cut as Error).message).toBe('Connection terminated unexpectedly');
      expect(isDatabaseUnavailable(cut)).toBe(true);

      // The server ending the session (shutdown, pg_terminate_backend): SQLSTATE 57P01.
      const name = new URL(database.url).pathname.slice(1);
      const blocker = await openDatabase({ databaseUrl: database.url });
      try {
        const terminated = caught(() =>
          db.prisma.$transaction(async (tx) => {
            await tx.$executeRaw`SELECT pg_sleep(5)`;
          }),
        );
        await new Promise((r) => setTimeout(r, 300));
        await blocker.prisma.$queryRaw`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = ${name} AND pid <> pg_backend_pid() AND query LIKE '%pg_sleep(5)%'`;
        const byServer = (await terminated) as {
          meta?: { driverAdapterError?: { cause?: { originalCode?: string } } };
        };
        expect(byServer.meta?.driverAdapterError?.cause?.originalCode).toBe('57P01');
        expect(isDatabaseUnavailable(byServer)).toBe(true);
      } finally {
        await blocker.close();
      }

      // Not outages: a missing table, a NOT NULL violation, a unique violation.
      const missing = await caught(() =>
        db.prisma.$executeRawUnsafe('SELECT * FROM no_such_table'),
      );
      expect(isDatabaseUnavailable(missing)).toBe(false);
      const nullId = await caught(() =>
        db.prisma.$executeRawUnsafe('INSERT INTO "Workspace" (id) VALUES (NULL)'),
      );
      expect(isDatabaseUnavailable(nullId)).toBe(false);
      await db.prisma.workspace.create({ data: { id: 'ws_dup', name: 'dup' } });
      const duplicate = await caught(() =>
        db.prisma.workspace.create({ data: { id: 'ws_dup', name: 'dup2' } }),
      );
      expect((duplicate as { code?: string }).code).toBe('P2002');
      expect(isDatabaseUnavailable(duplicate)).toBe(false);
      expect(isDatabaseUnavailable(new Error('boom'))).toBe(false);
    } finally {
      await refused.close();
      await db.close();
      await fwd.close();
      await database.drop();
    }
  });
});
