import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { type Prisma, PrismaClient } from './generated/prisma/client.ts';
import { lockDataDir } from './lock.ts';

export * from './generated/prisma/client.ts';
export { DataDirInUseError, lockDataDir } from './lock.ts';
export {
  checkDrift,
  createMigration,
  type DriftResult,
  type MigrateOptions,
  type MigrateTarget,
  MigrationHistoryError,
  type MigrationHistoryProblem,
  migrate,
} from './migrate.ts';
export { hashMigrations, readMigrationList, readSchemaFiles } from './migration-files.ts';
export { findPrismaPaths, type PrismaPaths } from './paths.ts';

/** The client handed to `prisma.$transaction(async (tx) => …)` callbacks. */
export type Tx = Prisma.TransactionClient;

/** An open database: PostgreSQL through adapter-pg, or embedded PGlite. */
export interface Db {
  prisma: PrismaClient;
  kind: 'postgres' | 'pglite';
  /** The PGlite instance, when `kind` is `pglite`. */
  pglite?: PGlite;
  /** Disconnects Prisma; closes the PGlite only if `openDatabase` opened it. */
  close(): Promise<void>;
}

/** How long taking a PostgreSQL connection may wait for the server to accept and answer the
 * handshake: without a bound, a server that stops answering (a black-holed network) holds every
 * request that needs a new connection, forever. */
export const CONNECT_TIMEOUT_MS = 10_000;

/** Told each SQL statement Prisma sends, with its parameters as JSON — for tests that check what a
 * read costs (by EXPLAINing it); production passes none. */
export type QueryListener = (statement: { query: string; params: string }) => void;

export type OpenDatabaseOptions = (
  | { databaseUrl: string; connectTimeoutMs?: number }
  | { dataDir: string }
  | { pglite: PGlite }
) & { onQuery?: QueryListener };

function prismaClient(
  adapter: PrismaPg | PrismaPGlite,
  onQuery: QueryListener | undefined,
): PrismaClient {
  if (!onQuery) return new PrismaClient({ adapter });
  const prisma = new PrismaClient({ adapter, log: [{ emit: 'event', level: 'query' }] });
  prisma.$on('query', (e) => onQuery({ query: e.query, params: e.params }));
  return prisma;
}

/**
 * Opens the database (without migrating it — see `migrate`):
 * - `databaseUrl`: PostgreSQL through `@prisma/adapter-pg`;
 * - `dataDir`: embedded PGlite persisted in that folder (created if missing; one process per folder:
 *   a second process is refused with DataDirInUseError, see lock.ts);
 * - `pglite`: an already open PGlite, left open by `close()`.
 */
export async function openDatabase(opts: OpenDatabaseOptions): Promise<Db> {
  if ('databaseUrl' in opts) {
    const prisma = prismaClient(
      new PrismaPg({
        connectionString: opts.databaseUrl,
        connectionTimeoutMillis: opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
      }),
      opts.onQuery,
    );
    return { prisma, kind: 'postgres', close: () => prisma.$disconnect() };
  }
  let pglite: PGlite;
  let owned = false;
  let release = async () => {};
  if ('dataDir' in opts) {
    const dataDir = path.resolve(opts.dataDir);
    // PGlite creates the data folder itself but not its parents.
    await mkdir(path.dirname(dataDir), { recursive: true });
    release = await lockDataDir(dataDir);
    try {
      pglite = await PGlite.create({ dataDir });
    } catch (err) {
      await release();
      throw err;
    }
    owned = true;
  } else {
    pglite = opts.pglite;
    await pglite.waitReady;
  }
  const prisma = prismaClient(new PrismaPGlite(pglite), opts.onQuery);
  return {
    prisma,
    kind: 'pglite',
    pglite,
    close: async () => {
      try {
        await prisma.$disconnect();
      } finally {
        try {
          if (owned && !pglite.closed) await pglite.close();
        } finally {
          await release();
        }
      }
    },
  };
}
