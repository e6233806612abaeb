import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';

import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
// By path, not as a dependency: @tollgate/testkit depends on @tollgate/db (no cycle for turbo).
import { createPgDatabase, createPgliteDatabase, pgAvailable } from '../../testkit/src/index.ts';
import {
  checkDrift,
  findPrismaPaths,
  type MigrateTarget,
  migrate,
  openDatabase,
} from '../src/index.ts';

const { prismaDir, migrationsDir } = findPrismaPaths();

async function migrationNames(): Promise<string[]> {
  const entries = await readdir(migrationsDir, { withFileTypes: true });
  return entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

async function checksumOf(name: string): Promise<string> {
  const file = await readFile(path.join(migrationsDir, name, 'migration.sql'));
  return createHash('sha256').update(file).digest('hex');
}

describe('migrate on PGlite', () => {
  let pglite: PGlite;
  beforeAll(async () => {
    pglite = await PGlite.create();
  });
  afterAll(async () => {
    await pglite?.close();
  });

  it('applies every migration, then nothing on a re-run', async () => {
    const names = await migrationNames();
    expect(names.some((name) => name.endsWith('_init'))).toBe(true);
    expect((await migrate({ pglite })).applied).toEqual(names);
    expect((await migrate({ pglite })).applied).toEqual([]);
    const rows = await pglite.query<{ migration_name: string; checksum: string }>(
      'SELECT migration_name, checksum FROM _prisma_migrations WHERE finished_at IS NOT NULL ORDER BY migration_name',
    );
    expect(rows.rows.map((row) => row.migration_name)).toEqual(names);
    expect(rows.rows[0]!.checksum).toBe(await checksumOf(names[0]!));
  });

  it('round-trips a Workspace through Prisma', async () => {
    const db = await openDatabase({ pglite });
    try {
      await db.prisma.workspace.create({
        data: { id: 'ws_pglite', name: 'PGlite', spendCapMicros: 12_500_000n },
      });
      const found = await db.prisma.workspace.findUniqueOrThrow({ where: { id: 'ws_pglite' } });
      expect(found).toMatchObject({ name: 'PGlite', spendCapMicros: 12_500_000n, markupBp: 0 });
      expect(db.kind).toBe('pglite');
    } finally {
      await db.close();
    }
    // The caller's PGlite stays open.
    expect(pglite.closed).toBe(false);
  });
});

describe.skipIf(!pgAvailable())('migrate on PostgreSQL', () => {
  let database: Awaited<ReturnType<typeof createPgDatabase>>;
  beforeAll(async () => {
    // createPgDatabase() migrates the fresh database.
    database = await createPgDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('records the migrations in _prisma_migrations, and a re-run is a no-op', async () => {
    const names = await migrationNames();
    expect((await migrate({ databaseUrl: database.url })).applied).toEqual([]);
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ migration_name: string; checksum: string }>(
        'SELECT migration_name, checksum FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ORDER BY migration_name',
      );
      expect(rows.map((row) => row.migration_name)).toEqual(names);
      for (const row of rows) expect(row.checksum).toBe(await checksumOf(row.migration_name));
    } finally {
      await client.end();
    }
  });

  it('applies on an empty database', async () => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      await client.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    } finally {
      await client.end();
    }
    expect((await migrate({ databaseUrl: database.url })).applied).toEqual(await migrationNames());
    expect((await migrate({ databaseUrl: database.url })).applied).toEqual([]);
  });

  it('round-trips a Workspace through Prisma', async () => {
    const db = await openDatabase({ databaseUrl: database.url });
    try {
      await db.prisma.workspace.create({ data: { id: 'ws_pg', name: 'Postgres', markupBp: 1250 } });
      const found = await db.prisma.workspace.findUniqueOrThrow({ where: { id: 'ws_pg' } });
      expect(found).toMatchObject({ name: 'Postgres', markupBp: 1250, spendCapMicros: null });
      expect(db.kind).toBe('postgres');
    } finally {
      await db.close();
    }
  });
});

describe('drift', () => {
  let tmp: string | undefined;
  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('finds no drift between schema.prisma and the migrations', async () => {
    const result = await checkDrift();
    expect(result.drift, result.script).toBe(false);
  });

  it('finds drift when the schema has a model the migrations lack', async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'tg-drift-'));
    const copy = path.join(tmp, 'prisma');
    await cp(prismaDir, copy, { recursive: true });
    const schemaFile = path.join(copy, 'schema.prisma');
    const schema = await readFile(schemaFile, 'utf8');
    await writeFile(schemaFile, `${schema}\nmodel DriftProbe {\n  id String @id\n}\n`);
    const result = await checkDrift({ prismaDir: copy });
    expect(result.drift).toBe(true);
    expect(result.script).toContain('CREATE TABLE "DriftProbe"');
  });
});

/** A migration only a newer build has, and one this build is about to apply. */
const NEWER = '20990101000000_from_a_newer_build';
const PENDING = '20990101000000_pending_probe';

/** A copy of prisma/ in a fresh temp folder (removed by `cleanup`), changed by `edit`. */
async function prismaCopy(edit: (migrations: string) => Promise<void>) {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'tg-history-'));
  const copy = path.join(tmp, 'prisma');
  await cp(prismaDir, copy, { recursive: true });
  await edit(path.join(copy, 'migrations'));
  return { dir: copy, cleanup: () => rm(tmp, { recursive: true, force: true }) };
}

async function addMigration(migrations: string, name: string, table: string): Promise<void> {
  await mkdir(path.join(migrations, name));
  await writeFile(
    path.join(migrations, name, 'migration.sql'),
    `CREATE TABLE "${table}" ("id" TEXT PRIMARY KEY);\n`,
  );
}

/** A database migrated with this build's migrations, read with plain SQL. */
interface Scratch {
  target: MigrateTarget;
  query<T>(sql: string): Promise<T[]>;
  close(): Promise<void>;
}

async function scratchPglite(): Promise<Scratch> {
  const pglite = await createPgliteDatabase();
  return {
    target: { pglite },
    query: async <T>(sql: string) => (await pglite.query<T>(sql)).rows,
    close: () => pglite.close(),
  };
}

async function scratchPostgres(): Promise<Scratch> {
  const database = await createPgDatabase();
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  return {
    target: { databaseUrl: database.url },
    query: async (sql) => (await client.query(sql)).rows,
    close: async () => {
      await client.end();
      await database.drop();
    },
  };
}

const HISTORY_SQL =
  'SELECT migration_name, checksum, finished_at IS NOT NULL AS finished FROM _prisma_migrations ORDER BY migration_name';

for (const [label, open, enabled] of [
  ['PGlite', scratchPglite, true],
  ['PostgreSQL', scratchPostgres, pgAvailable()],
] as const) {
  describe.skipIf(!enabled)(`a database this build does not match, on ${label}`, () => {
    let db: Scratch | undefined;
    let copy: Awaited<ReturnType<typeof prismaCopy>> | undefined;
    afterEach(async () => {
      await db?.close();
      await copy?.cleanup();
      db = copy = undefined;
    });

    it('migrated by a newer build: refused, naming the migration, nothing applied', async () => {
      db = await open();
      // This build's own database: a re-run is still a no-op.
      expect((await migrate(db.target)).applied).toEqual([]);
      copy = await prismaCopy((migrations) => addMigration(migrations, NEWER, 'NewerProbe'));
      expect((await migrate(db.target, { prismaDir: copy.dir })).applied).toEqual([NEWER]);
      const before = await db.query(HISTORY_SQL);
      await expect(migrate(db.target)).rejects.toMatchObject({
        name: 'MigrationHistoryError',
        problem: 'unknown',
        migrations: [NEWER],
        message: `the database has migrations this build does not know (${NEWER}): it was migrated by a newer Tollgate; run that version or restore a backup`,
      });
      expect(await db.query(HISTORY_SQL)).toEqual(before);
    });

    it('an applied migration edited since: refused, naming it, before the pending one is applied', async () => {
      db = await open();
      const [first] = await migrationNames();
      copy = await prismaCopy(async (migrations) => {
        await writeFile(path.join(migrations, first!, 'migration.sql'), '-- edited\n', {
          flag: 'a',
        });
        await addMigration(migrations, PENDING, 'PendingProbe');
      });
      const before = await db.query(HISTORY_SQL);
      await expect(migrate(db.target, { prismaDir: copy.dir })).rejects.toMatchObject({
        name: 'MigrationHistoryError',
        problem: 'changed',
        migrations: [first],
        message: `migration ${first} was changed after it was applied to this database (checksum differs): restore the migration.sql that was applied; changes go in a new migration`,
      });
      expect(await db.query(HISTORY_SQL)).toEqual(before);
      const [probe] = await db.query<{ t: string | null }>(
        `SELECT to_regclass('"PendingProbe"')::text AS t`,
      );
      expect(probe!.t).toBeNull();
    });

    it('line endings converted (a Windows checkout) are no change, as for Prisma', async () => {
      db = await open();
      copy = await prismaCopy(async (migrations) => {
        for (const name of await migrationNames()) {
          const file = path.join(migrations, name, 'migration.sql');
          await writeFile(file, (await readFile(file, 'utf8')).replaceAll('\n', '\r\n'));
        }
      });
      expect((await migrate(db.target, { prismaDir: copy.dir })).applied).toEqual([]);
    });

    it('a migration recorded as failed: refused in one line naming it', async () => {
      db = await open();
      const names = await migrationNames();
      const last = names[names.length - 1]!;
      await db.query(
        `UPDATE _prisma_migrations SET finished_at = NULL, logs = 'boom' WHERE migration_name = '${last}'`,
      );
      await expect(migrate(db.target)).rejects.toMatchObject({
        name: 'MigrationHistoryError',
        problem: 'failed',
        migrations: [last],
        message: `migration ${last} failed when applied to this database (recorded as failed in _prisma_migrations; nothing new was applied): repair the database, then mark it rolled back or applied (https://pris.ly/d/migrate-resolve)`,
      });
    });
  });
}
