import { createHash } from 'node:crypto';
import type { PGlite } from '@electric-sql/pglite';
import type { MigrationList } from '@prisma/schema-engine-wasm';
import pg from 'pg';

/** Why a database's migration history does not match this build's `prisma/migrations`. */
export type MigrationHistoryProblem = 'unknown' | 'changed' | 'failed';

/**
 * `migrate()` refused a database this build does not match. Prisma's engine would apply the rest
 * without a word about migrations it does not know (a downgrade) or whose file changed since.
 */
export class MigrationHistoryError extends Error {
  override readonly name = 'MigrationHistoryError';
  constructor(
    readonly problem: MigrationHistoryProblem,
    readonly migrations: string[],
  ) {
    super(historyMessage(problem, migrations));
  }
}

function historyMessage(problem: MigrationHistoryProblem, migrations: string[]): string {
  const names = migrations.join(', ');
  const one = migrations.length === 1;
  switch (problem) {
    case 'unknown':
      return (
        `the database has migrations this build does not know (${names}): it was migrated by a ` +
        'newer Tollgate; run that version or restore a backup'
      );
    case 'changed':
      return (
        `${one ? 'migration' : 'migrations'} ${names} ${one ? 'was' : 'were'} changed after ` +
        `${one ? 'it was' : 'they were'} applied to this database (checksum differs): restore ` +
        'the migration.sql that was applied; changes go in a new migration'
      );
    case 'failed':
      return (
        `${one ? 'migration' : 'migrations'} ${names} failed when applied to this database ` +
        '(recorded as failed in _prisma_migrations; nothing new was applied): repair the ' +
        'database, then mark it rolled back or applied (https://pris.ly/d/migrate-resolve)'
      );
  }
}

interface HistoryRow {
  migration_name: string;
  checksum: string;
  finished: boolean;
}

// Rolled-back rows do not count: Prisma applies such a migration again.
const HISTORY_SQL = `SELECT migration_name, checksum, finished_at IS NOT NULL AS finished
  FROM _prisma_migrations WHERE rolled_back_at IS NULL`;
const HAS_TABLE_SQL = `SELECT to_regclass('_prisma_migrations') IS NOT NULL AS present`;

/** `_prisma_migrations` read with plain SQL on the database `migrate()` is about to touch. */
async function readHistory(
  target: { databaseUrl: string } | { pglite: PGlite },
): Promise<HistoryRow[]> {
  if ('pglite' in target) {
    const { rows } = await target.pglite.query<{ present: boolean }>(HAS_TABLE_SQL);
    return rows[0]?.present ? (await target.pglite.query<HistoryRow>(HISTORY_SQL)).rows : [];
  }
  const client = new pg.Client({ connectionString: target.databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ present: boolean }>(HAS_TABLE_SQL);
    return rows[0]?.present ? (await client.query<HistoryRow>(HISTORY_SQL)).rows : [];
  } finally {
    await client.end().catch(() => undefined);
  }
}

const sha256 = (text: string) => createHash('sha256').update(text).digest();

/**
 * As Prisma's engine compares (schema-connector's `script_matches_checksum`): SHA-256 hex of the
 * file, also with its line endings converted either way (git may check a file out with CRLF), and
 * the unpadded hex very old engines wrote. A database Prisma accepts is never refused here.
 */
function matchesChecksum(script: string, checksum: string): boolean {
  return [script, script.replaceAll('\r\n', '\n'), script.replaceAll('\n', '\r\n')].some((text) => {
    const digest = sha256(text);
    return checksum.length === 64
      ? digest.toString('hex') === checksum
      : [...digest].map((byte) => byte.toString(16)).join('') === checksum;
  });
}

/**
 * Throws a MigrationHistoryError when the database holds migrations `list` does not (it was
 * migrated by a newer build) or applied ones whose file differs. A database without
 * `_prisma_migrations` (fresh) passes. Unfinished rows are left to the engine, which judges them
 * under its migration lock (another process may be applying that migration right now).
 */
export async function checkMigrationHistory(
  target: { databaseUrl: string } | { pglite: PGlite },
  list: MigrationList,
): Promise<void> {
  const rows = await readHistory(target);
  const scripts = new Map(
    list.migrationDirectories.map((dir) => [dir.path, dir.migrationFile.content]),
  );
  const sorted = (names: string[]) => [...new Set(names)].sort();
  const unknown = sorted(
    rows.filter((row) => !scripts.has(row.migration_name)).map((row) => row.migration_name),
  );
  if (unknown.length) throw new MigrationHistoryError('unknown', unknown);
  const changed = sorted(
    rows
      .filter((row) => {
        const script = scripts.get(row.migration_name);
        // An unreadable migration.sql is reported by the engine.
        return row.finished && script?.tag === 'ok' && !matchesChecksum(script.value, row.checksum);
      })
      .map((row) => row.migration_name),
  );
  if (changed.length) throw new MigrationHistoryError('changed', changed);
}

/**
 * The engine's refusal of a history with failed migrations, as one MigrationHistoryError naming
 * them (its own message spans lines and names them in backticks); null for any other error.
 */
export function failedMigrationsError(error: unknown): MigrationHistoryError | null {
  const message = (error as { message?: unknown })?.message;
  if (typeof message !== 'string' || !message.includes('found failed migrations')) return null;
  const names = [...message.matchAll(/The `([^`]+)` migration started at [^\n]* failed/g)].map(
    (match) => match[1]!,
  );
  return names.length ? new MigrationHistoryError('failed', names) : null;
}
