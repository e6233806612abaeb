import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import {
  bindMigrationAwareSqlAdapterFactory,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
} from '@prisma/driver-adapter-utils';
import type { SchemaEngine, SchemaFilter } from '@prisma/schema-engine-wasm';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import {
  LOCKFILE_CONTENT,
  LOCKFILE_NAME,
  readMigrationList,
  readSchemaFiles,
} from './migration-files.ts';
import { checkMigrationHistory, failedMigrationsError } from './migration-history.ts';
import { findPrismaPaths, type PrismaPaths } from './paths.ts';

export { MigrationHistoryError, type MigrationHistoryProblem } from './migration-history.ts';

/** Where to apply migrations: a PostgreSQL URL, or an open PGlite (left open afterwards). */
export type MigrateTarget = { databaseUrl: string } | { pglite: PGlite };

export interface MigrateOptions {
  /** The `prisma/` folder holding `schema.prisma` and `migrations/`; default: the repository's. */
  prismaDir?: string;
}

export interface DriftResult {
  /** True when `schema.prisma` describes a database the migrations do not produce. */
  drift: boolean;
  /** The SQL that would bring the migrated database to the schema (empty-ish when no drift). */
  script: string;
}

const NO_FILTER: SchemaFilter = { externalTables: [], externalEnums: [] };

type EngineModule = typeof import('@prisma/schema-engine-wasm');

interface EngineGlobals {
  module?: Promise<EngineModule>;
  queue: Promise<unknown>;
}

// The Wasm module must be instantiated once per process (a second instance fails with
// "FnOnce called more than once"). `SchemaEngine.new()` itself may be called many times on that one
// instance, so each operation gets its own engine bound to its own adapter. Kept on globalThis so
// that module re-evaluation (test isolation, duplicated copies of this file) shares the instance.
const GLOBALS_KEY = Symbol.for('tollgate.db.schemaEngine');
const globalSlots = globalThis as Record<symbol, EngineGlobals | undefined>;
globalSlots[GLOBALS_KEY] ??= { queue: Promise.resolve() };
const globals: EngineGlobals = globalSlots[GLOBALS_KEY];

function loadEngineModule(): Promise<EngineModule> {
  globals.module ??= import('@prisma/schema-engine-wasm');
  return globals.module;
}

/** Runs engine operations one at a time per process: the engine is not meant to be reentrant. */
function serialize<T>(task: () => Promise<T>): Promise<T> {
  const run = globals.queue.then(task, task);
  globals.queue = run.catch(() => undefined);
  return run;
}

/** Resources opened for one engine operation, released when it ends. */
class Resources {
  private readonly adapters: SqlDriverAdapter[] = [];
  private readonly pglites: PGlite[] = [];

  adapter(adapter: SqlDriverAdapter): SqlDriverAdapter {
    this.adapters.push(adapter);
    return adapter;
  }

  pglite(pglite: PGlite): PGlite {
    this.pglites.push(pglite);
    return pglite;
  }

  async release(): Promise<void> {
    // Adapters first (adapter-pg's shadow adapter drops its database on dispose), then PGlites.
    for (const adapter of this.adapters.splice(0).reverse()) {
      await adapter.dispose().catch(() => undefined);
    }
    for (const pglite of this.pglites.splice(0).reverse()) {
      if (!pglite.closed) await pglite.close().catch(() => undefined);
    }
  }
}

/**
 * pglite-prisma-adapter 0.7.2 does not await `exec` in `executeScript`, so a failing migration
 * would be reported as applied (and its error surface as an unhandled rejection). Await it.
 */
function awaitScripts(adapter: SqlDriverAdapter, pglite: PGlite): SqlDriverAdapter {
  const onError = (adapter as unknown as { onError(error: unknown): never }).onError.bind(adapter);
  adapter.executeScript = async (script: string) => {
    try {
      await pglite.exec(script);
    } catch (error) {
      onError(error);
    }
  };
  return adapter;
}

function pgliteFactory(
  pglite: PGlite,
  resources: Resources,
): SqlMigrationAwareDriverAdapterFactory {
  const main = new PrismaPGlite(pglite);
  return {
    provider: main.provider,
    adapterName: main.adapterName,
    connect: async () => resources.adapter(awaitScripts(await main.connect(), pglite)),
    // The adapter's own shadow PGlite is never closed; open (and close) our own in-memory one.
    connectToShadowDb: () => connectScratchPglite(resources),
  };
}

/** A fresh in-memory PGlite, closed with the other resources. */
async function connectScratchPglite(resources: Resources): Promise<SqlDriverAdapter> {
  const pglite = resources.pglite(new PGlite());
  await pglite.waitReady;
  return resources.adapter(awaitScripts(await new PrismaPGlite(pglite).connect(), pglite));
}

/** Main and shadow databases both scratch in-memory PGlites, opened only if the engine asks. */
function scratchFactory(resources: Resources): SqlMigrationAwareDriverAdapterFactory {
  return {
    provider: 'postgres',
    adapterName: new PrismaPGlite(undefined as unknown as PGlite).adapterName,
    connect: () => connectScratchPglite(resources),
    connectToShadowDb: () => connectScratchPglite(resources),
  };
}

function pgFactory(
  databaseUrl: string,
  resources: Resources,
): SqlMigrationAwareDriverAdapterFactory {
  const inner = new PrismaPg({ connectionString: databaseUrl });
  return {
    provider: inner.provider,
    adapterName: inner.adapterName,
    connect: async () => resources.adapter(await inner.connect()),
    // adapter-pg 7.10.1's shadow database is created next to the main one; never used for authoring.
    connectToShadowDb: async () => resources.adapter(await inner.connectToShadowDb()),
  };
}

async function withEngine<T>(
  paths: PrismaPaths,
  makeFactory: (resources: Resources) => SqlMigrationAwareDriverAdapterFactory,
  task: (engine: SchemaEngine) => Promise<T>,
): Promise<T> {
  const { SchemaEngine } = await loadEngineModule();
  const schemaFiles = await readSchemaFiles(paths);
  return serialize(async () => {
    const restoreTimers = unrefEngineTimers();
    const resources = new Resources();
    const logs: string[] = [];
    let engine: SchemaEngine | undefined;
    try {
      engine = await SchemaEngine.new(
        { datamodels: schemaFiles.map((file) => [file.path, file.content]) },
        (line: string) => {
          logs.push(line);
          if (logs.length > 200) logs.shift();
        },
        bindMigrationAwareSqlAdapterFactory(makeFactory(resources)),
      );
      return await task(engine);
    } catch (error) {
      throw engineError(error, logs);
    } finally {
      engine?.free();
      await resources.release();
      restoreTimers();
    }
  });
}

/**
 * The engine arms timers it never clears (e.g. a 10 s advisory-lock timeout) through the global
 * `setTimeout`; each would keep the process alive after the work is done. While an operation runs,
 * timers armed from the engine's glue code are unref'd. Other callers' timers are left alone.
 */
function unrefEngineTimers(): () => void {
  const original = globalThis.setTimeout;
  const wrapped = ((...args: Parameters<typeof setTimeout>) => {
    const timer = original(...args);
    if (new Error().stack?.includes('schema_engine_bg')) timer.unref();
    return timer;
  }) as typeof setTimeout;
  globalThis.setTimeout = Object.assign(wrapped, original);
  return () => {
    if (globalThis.setTimeout === wrapped) globalThis.setTimeout = original;
  };
}

/** Engine errors arrive as plain objects or strings; make them real errors with a readable message. */
function engineError(error: unknown, logs: string[]): Error {
  if (error instanceof Error) return error;
  const detail =
    typeof error === 'string'
      ? error
      : ((error as { message?: string })?.message ?? JSON.stringify(error));
  const err = new Error(`schema engine: ${detail}`, { cause: error });
  if (process.env.TG_DEBUG_SCHEMA_ENGINE) err.message += `\n${logs.join('')}`;
  return err;
}

/**
 * Applies the pending migrations of `prisma/migrations` (Prisma's schema engine, as Wasm, keeping
 * Prisma's own `_prisma_migrations` table — compatible with `prisma migrate deploy`).
 * Re-running is a no-op. A database this build does not match — it holds migrations unknown here
 * (a newer build migrated it), an applied migration's file changed since, or one is recorded as
 * failed — is refused with a MigrationHistoryError before anything is applied.
 */
export async function migrate(
  target: MigrateTarget,
  opts: MigrateOptions = {},
): Promise<{ applied: string[] }> {
  const paths = findPrismaPaths(opts.prismaDir);
  const migrationsList = await readMigrationList(paths.migrationsDir);
  // The engine applies what is pending and says nothing about the rest: check the rest first.
  await checkMigrationHistory(target, migrationsList);
  const makeFactory =
    'pglite' in target
      ? (resources: Resources) => pgliteFactory(target.pglite, resources)
      : (resources: Resources) => pgFactory(target.databaseUrl, resources);
  const result = await withEngine(paths, makeFactory, (engine) =>
    engine.applyMigrations({ migrationsList, filters: NO_FILTER }),
  ).catch((error: unknown) => {
    throw failedMigrationsError(error) ?? error;
  });
  return { applied: result.appliedMigrationNames };
}

/**
 * Compares the database the migrations produce with `schema.prisma`, on in-memory PGlite databases
 * (never PostgreSQL: adapter-pg's shadow database would be the main one).
 */
export async function checkDrift(opts: MigrateOptions = {}): Promise<DriftResult> {
  const paths = findPrismaPaths(opts.prismaDir);
  const migrationsList = await readMigrationList(paths.migrationsDir);
  // The engine learns the connector from the lock file; before the first migration there is none.
  migrationsList.lockfile.content ??= LOCKFILE_CONTENT;
  const files = await readSchemaFiles(paths);
  const result = await withEngine(paths, scratchFactory, (engine) =>
    engine.diff({
      from: { tag: 'migrations', ...migrationsList },
      to: { tag: 'schemaDatamodel', files },
      script: true,
      exitCode: true,
      filters: NO_FILTER,
    }),
  );
  return { drift: result.exitCode === 2, script: result.stdout ?? '' };
}

/** `YYYYMMDDHHMMSS` in UTC, the prefix Prisma gives migration folders. */
function timestamp(date = new Date()): string {
  return date.toISOString().replace(/[-:T]/g, '').replace(/\..*$/, '');
}

/**
 * Writes `prisma/migrations/<timestamp>_<name>/migration.sql` with the SQL that brings the migrated
 * database to `schema.prisma` (and `migration_lock.toml` when missing). Null when nothing changed.
 */
export async function createMigration(
  name: string,
  opts: MigrateOptions = {},
): Promise<{ dir: string } | null> {
  const slug = name
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (!slug) throw new Error(`invalid migration name: ${JSON.stringify(name)}`);
  const paths = findPrismaPaths(opts.prismaDir);
  const { drift, script } = await checkDrift(opts);
  if (!drift) return null;
  const dir = path.join(paths.migrationsDir, `${timestamp()}_${slug}`);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'migration.sql'), script.endsWith('\n') ? script : `${script}\n`, {
    flag: 'wx',
  });
  const lockfile = path.join(paths.migrationsDir, LOCKFILE_NAME);
  const existing = await readFile(lockfile, 'utf8').catch(() => null);
  if (existing === null) await writeFile(lockfile, LOCKFILE_CONTENT);
  return { dir };
}
