import { createHash } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// By path, not as a dependency: @tollgate/testkit depends on @tollgate/db (no cycle for turbo).
import { createPgDatabase, pgAvailable } from '../../testkit/src/index.ts';
import { checkDrift, findPrismaPaths, migrate, openDatabase } from '../src/index.ts';

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
