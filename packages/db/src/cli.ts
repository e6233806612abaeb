/**
 * Database commands (Prisma's schema engine as Wasm — the native engine cannot be downloaded here):
 *   migrate       apply pending migrations to DATABASE_URL, else the embedded PGlite
 *                 at ${TOLLGATE_DATA_DIR:-.tollgate}/pgdata
 *   new <name>    write prisma/migrations/<timestamp>_<name>/migration.sql from schema.prisma
 *   drift         exit 1 and print the SQL when schema.prisma and the migrations differ
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { lockDataDir } from './lock.ts';
import { checkDrift, createMigration, MigrationHistoryError, migrate } from './migrate.ts';

const USAGE = 'usage: tsx packages/db/src/cli.ts migrate | new <name> | drift';

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'migrate': {
      const url = process.env.DATABASE_URL;
      if (url) {
        const { applied } = await migrate({ databaseUrl: url });
        report(applied, redact(url));
        return 0;
      }
      const dataDir = path.resolve(process.env.TOLLGATE_DATA_DIR || '.tollgate', 'pgdata');
      await mkdir(path.dirname(dataDir), { recursive: true });
      const release = await lockDataDir(dataDir);
      try {
        const pglite = await PGlite.create({ dataDir });
        try {
          const { applied } = await migrate({ pglite });
          report(applied, dataDir);
        } finally {
          await pglite.close();
        }
      } finally {
        await release();
      }
      return 0;
    }
    case 'new': {
      const name = rest[0];
      if (!name) {
        console.error(USAGE);
        return 2;
      }
      const created = await createMigration(name);
      console.log(
        created
          ? `created ${path.relative(process.cwd(), created.dir)}`
          : 'no changes: no migration',
      );
      return 0;
    }
    case 'drift': {
      const { drift, script } = await checkDrift();
      if (!drift) {
        console.log('migrations: no drift');
        return 0;
      }
      console.error(
        'migrations: drift — schema.prisma differs from prisma/migrations; run `pnpm db:migrate:new <name>`.\n' +
          'SQL the migrations are missing:\n',
      );
      console.log(script);
      return 1;
    }
    default:
      console.error(USAGE);
      return 2;
  }
}

function report(applied: string[], where: string): void {
  console.log(
    applied.length
      ? `applied ${applied.length} migration(s) to ${where}:\n${applied.map((name) => `  ${name}`).join('\n')}`
      : `migrations: up to date (${where})`,
  );
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'DATABASE_URL';
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // A database this build does not match is the operator's to fix: the line says how, no stack.
    if (error instanceof MigrationHistoryError) console.error(`migrate: ${error.message}`);
    else console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exitCode = 1;
  },
);
