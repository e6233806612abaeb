import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import {
  type Db,
  findPrismaPaths,
  hashMigrations,
  migrate,
  openDatabase,
  type QueryListener,
} from '@tollgate/db';
import pg from 'pg';

/** The server tests create their databases on (trust auth, see ENVIRONMENT.md). */
export const PG_ADMIN_URL =
  process.env.TG_TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * Whether PostgreSQL tests should run. The test script probes 127.0.0.1:5432 and sets TG_TIER_PG=0/1;
 * unset means "try" (a missing server then fails loudly rather than skipping silently).
 */
export function pgAvailable(): boolean {
  return process.env.TG_TIER_PG !== '0';
}

/** Whether Redis tests should run (TG_TIER_REDIS, set like TG_TIER_PG). */
export function redisAvailable(): boolean {
  return process.env.TG_TIER_REDIS !== '0';
}

export interface PgTestDatabase {
  /** Connection string of the new database. */
  url: string;
  /** Terminates its connections and drops it. */
  drop(): Promise<void>;
}

async function withAdmin<T>(task: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    return await task(client);
  } finally {
    await client.end();
  }
}

/** A fresh, migrated PostgreSQL database `tg_test_<random>`; call `drop()` when done. */
export async function createPgDatabase(): Promise<PgTestDatabase> {
  const name = `tg_test_${randomBytes(6).toString('hex')}`;
  await withAdmin((client) => client.query(`CREATE DATABASE "${name}"`));
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    await withAdmin(async (client) => {
      await client.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [name],
      );
      await client.query(`DROP DATABASE IF EXISTS "${name}"`);
    });
  };
  try {
    await migrate({ databaseUrl: url.toString() });
  } catch (error) {
    await drop().catch(() => undefined);
    throw error;
  }
  return { url: url.toString(), drop };
}

let snapshot: Promise<Blob> | undefined;

/** The migrated empty database as a `dumpDataDir()` tarball, cached in os.tmpdir() per migration set. */
function migratedSnapshot(): Promise<Blob> {
  snapshot ??= (async () => {
    // Keyed by the migrations and by the PGlite build (its install path carries the version).
    const migrations = await hashMigrations(findPrismaPaths().migrationsDir);
    const build = createRequire(import.meta.url).resolve('@electric-sql/pglite');
    const key = createHash('sha256').update(`${migrations}\0${build}`).digest('hex').slice(0, 20);
    const file = path.join(os.tmpdir(), 'tollgate-testkit', `pglite-${key}.tar.gz`);
    const cached = await readFile(file).catch(() => null);
    if (cached) return new Blob([cached]);
    const pglite = await PGlite.create();
    try {
      await migrate({ pglite });
      const dump = await pglite.dumpDataDir('gzip');
      await mkdir(path.dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      await writeFile(tmp, Buffer.from(await dump.arrayBuffer()));
      await rename(tmp, file);
      return dump;
    } finally {
      await pglite.close();
    }
  })();
  snapshot.catch(() => {
    snapshot = undefined;
  });
  return snapshot;
}

/**
 * A fresh in-memory PGlite holding the migrated schema. The first call on a machine migrates and
 * snapshots it (a few seconds); later calls load the snapshot (~1 s). Close it when done.
 */
export async function createPgliteDatabase(): Promise<PGlite> {
  const loadDataDir = await migratedSnapshot();
  return PGlite.create({ loadDataDir });
}

export interface TestDatabase {
  db: Db;
  /** Closes the client and drops / closes the database. */
  cleanup(): Promise<void>;
}

/** A migrated database of the given kind with an open Prisma client (telling `onQuery` each
 * statement it sends, if given). */
export async function openTestDatabase(
  kind: 'pglite' | 'postgres',
  opts: { onQuery?: QueryListener } = {},
): Promise<TestDatabase> {
  if (kind === 'postgres') {
    const database = await createPgDatabase();
    const db = await openDatabase({ databaseUrl: database.url, onQuery: opts.onQuery });
    return {
      db,
      cleanup: async () => {
        try {
          await db.close();
        } finally {
          await database.drop();
        }
      },
    };
  }
  const pglite = await createPgliteDatabase();
  const db = await openDatabase({ pglite, onQuery: opts.onQuery });
  return {
    db,
    cleanup: async () => {
      try {
        await db.close();
      } finally {
        await pglite.close();
      }
    },
  };
}
export { clearOfMinuteEdge } from './clock.ts';
export { getFromAddress } from './from-address.ts';
export {
  freePort,
  type PrivateRedis,
  refusedPort,
  scriptsRun,
  startPrivateRedis,
} from './private-redis.ts';
export { type RawAnswer, rawHttp } from './raw-http.ts';
export { startTcpForwarder, type TcpForwarder } from './tcp-forwarder.ts';
export { usageEvent } from './usage-event.ts';
export { waitUntil } from './wait.ts';
