import { randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { findPrismaPaths, migrate, openDatabase } from '@tollgate/db';
import { createPgDatabase, pgAvailable } from '@tollgate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tollgate } from './processes.ts';

// A database migrated by a newer Tollgate (it holds a migration this build does not know) must stop
// `tollgate migrate` and start-up with one line, not "up to date" and a start on a schema this
// build does not understand.
const NEWER = '20990101000000_from_a_newer_build';
const REFUSAL = `the database has migrations this build does not know (${NEWER}): it was migrated by a newer Tollgate; run that version or restore a backup`;
const SECRET_KEY = randomBytes(32).toString('base64');

/** Runs `tollgate <args>` to its exit; one still running after `ms` (it started on that
 * database) is stopped, so a failing run leaves no process behind. */
async function run(args: string[], env: Record<string, string>, ms = 45_000) {
  const p = tollgate(args, env);
  const code = await new Promise<number | null>((resolve) => {
    if (p.child.exitCode !== null) return resolve(p.child.exitCode);
    const timer = setTimeout(() => p.child.kill('SIGKILL'), ms);
    p.child.once('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  // Let the pipes drain.
  await new Promise((r) => setTimeout(r, 50));
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

/** Exit 1 with exactly one line on stderr; that line is returned. */
function oneLine(o: { code: number | null; stdout: string; stderr: string }): string {
  expect(o.code, o.stderr + o.stdout).toBe(1);
  const lines = o.stderr.split('\n').filter((l) => l !== '');
  expect(lines, o.stderr).toHaveLength(1);
  return lines[0]!;
}

describe('a database migrated by a newer Tollgate', () => {
  let tmp: string;
  /** prisma/ as a newer build has it: this build's migrations and one more. */
  let newerPrisma: string;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(tmpdir(), 'tollgate-history-'));
    newerPrisma = path.join(tmp, 'prisma');
    await cp(findPrismaPaths().prismaDir, newerPrisma, { recursive: true });
    const dir = path.join(newerPrisma, 'migrations', NEWER);
    await mkdir(dir);
    await writeFile(path.join(dir, 'migration.sql'), 'CREATE TABLE "NewerProbe" ("id" TEXT);\n');
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it.skipIf(!pgAvailable())(
    'DATABASE_URL: `tollgate migrate` and `tollgate control-plane` exit 1 with one line',
    async () => {
      const database = await createPgDatabase();
      try {
        await migrate({ databaseUrl: database.url }, { prismaDir: newerPrisma });
        const migrated = await run(['migrate'], { DATABASE_URL: database.url });
        expect(oneLine(migrated)).toBe(`tollgate: DATABASE_URL: ${REFUSAL}`);
        expect(migrated.stdout).not.toContain('up to date');
        const started = await run(['control-plane'], {
          DATABASE_URL: database.url,
          TOLLGATE_SECRET_KEY: SECRET_KEY,
          TOLLGATE_CONTROL_PLANE_PORT: '0',
        });
        expect(oneLine(started)).toBe(`tollgate: DATABASE_URL: ${REFUSAL}`);
        expect(started.stdout).not.toMatch(/listening|sk-tg-admin/);
      } finally {
        await database.drop();
      }
    },
    120_000,
  );

  it('embedded: `tollgate start` exits 1 with one line naming the data dir', async () => {
    const dataDir = path.join(tmp, '.tollgate');
    const pgdata = path.join(dataDir, 'pgdata');
    const db = await openDatabase({ dataDir: pgdata });
    try {
      await migrate({ pglite: db.pglite! }, { prismaDir: newerPrisma });
    } finally {
      await db.close();
    }
    const started = await run(['start'], {
      TOLLGATE_DATA_DIR: dataDir,
      TOLLGATE_CONTROL_PLANE_PORT: '0',
      TOLLGATE_DATA_PLANE_PORT: '0',
    });
    expect(oneLine(started)).toBe(`tollgate: ${pgdata}: ${REFUSAL}`);
    expect(started.stdout).not.toMatch(/listening|sk-tg-admin/);
  }, 90_000);
});
