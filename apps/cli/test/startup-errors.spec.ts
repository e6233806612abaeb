import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDatabase } from '@tollgate/db';
import {
  PG_ADMIN_URL,
  type PrivateRedis,
  pgAvailable,
  redisAvailable,
  startPrivateRedis,
} from '@tollgate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tollgate } from './processes.ts';

// SPEC §2: "A bad or missing required value stops start-up with one clear line naming the
// variable. Secrets never appear in logs." Each case runs the real CLI. Ports this file listens
// on or points at: 18610-18629 (nothing listens on NO_REDIS or NO_PG).
const NO_REDIS = 18_619;
const NO_PG = 18_618;
const PASSWORD = `pw-${randomBytes(6).toString('hex')}`;
const SECRET_KEY = randomBytes(32).toString('base64');

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function run(args: string[], env: Record<string, string>): Promise<Outcome> {
  const p = tollgate(args, env);
  const code = await new Promise<number | null>((resolve) => {
    if (p.child.exitCode !== null) resolve(p.child.exitCode);
    else p.child.once('exit', (c) => resolve(c));
  });
  // Let the pipes drain.
  await new Promise((r) => setTimeout(r, 50));
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

/** Exit 1 with exactly one line on stderr; that line is returned. */
function oneLine(o: Outcome): string {
  expect(o.code, o.stderr + o.stdout).toBe(1);
  const lines = o.stderr.split('\n').filter((l) => l !== '');
  expect(lines, o.stderr).toHaveLength(1);
  expect(o.stderr.endsWith('\n')).toBe(true);
  return lines[0]!;
}

async function withDir<T>(task: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tollgate-startup-'));
  try {
    return await task(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function listenOn(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

/** A PostgreSQL database created empty (not migrated), to see whether a command migrated it. */
async function emptyDatabase(): Promise<{
  url: string;
  migrated(): Promise<boolean>;
  drop(): Promise<void>;
}> {
  const name = `tg_test_${randomBytes(6).toString('hex')}`;
  const admin = await openDatabase({ databaseUrl: PG_ADMIN_URL });
  try {
    await admin.prisma.$executeRawUnsafe(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.close();
  }
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async migrated() {
      const db = await openDatabase({ databaseUrl: url.toString() });
      try {
        const [row] = await db.prisma.$queryRaw<{ t: string | null }[]>`
          SELECT to_regclass('public._prisma_migrations')::text AS t`;
        return row?.t != null;
      } finally {
        await db.close();
      }
    },
    async drop() {
      const db = await openDatabase({ databaseUrl: PG_ADMIN_URL });
      try {
        await db.prisma.$executeRawUnsafe(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}' AND pid <> pg_backend_pid()`,
        );
        await db.prisma.$executeRawUnsafe(`DROP DATABASE IF EXISTS "${name}"`);
      } finally {
        await db.close();
      }
    },
  };
}

describe.skipIf(!pgAvailable() || !redisAvailable())(
  'start-up failures: one line naming the variable, before anything is migrated or printed',
  () => {
    let db: Awaited<ReturnType<typeof emptyDatabase>>;
    let redis: PrivateRedis;
    let redisWithPassword: string;
    beforeAll(async () => {
      db = await emptyDatabase();
      redis = await startPrivateRedis(['--requirepass', PASSWORD]);
      redisWithPassword = redis.url.replace('redis://', '');
    });
    afterAll(async () => {
      await redis?.stop();
      await db?.drop();
    });

    it('Redis unreachable: REDIS_URL named with host and reason, never the password; nothing migrated', async () => {
      const redisUrl = `redis://user:${PASSWORD}@127.0.0.1:${NO_REDIS}`;
      const expected = `tollgate: REDIS_URL: cannot connect to 127.0.0.1:${NO_REDIS} (connection refused)`;
      const dp = await run(['data-plane'], {
        REDIS_URL: redisUrl,
        TOLLGATE_SECRET_KEY: SECRET_KEY,
        TOLLGATE_DATA_PLANE_PORT: '18610',
      });
      expect(oneLine(dp)).toBe(expected);
      for (const command of ['start', 'control-plane']) {
        const o = await run([command], {
          DATABASE_URL: db.url,
          REDIS_URL: redisUrl,
          TOLLGATE_SECRET_KEY: SECRET_KEY,
          TOLLGATE_DATA_PLANE_PORT: '18610',
          TOLLGATE_CONTROL_PLANE_PORT: '18611',
        });
        expect(oneLine(o)).toBe(expected);
        expect(o.stdout).not.toMatch(/migrations applied|listening|sk-tg-admin/);
        expect(o.stdout + o.stderr).not.toContain(PASSWORD);
      }
      // Redis is checked before the database is migrated.
      expect(await db.migrated()).toBe(false);
      expect(dp.stdout + dp.stderr).not.toContain(PASSWORD);
    });

    it('Redis refusing the password (WRONGPASS) or wanting one (NOAUTH) names REDIS_URL', async () => {
      const wrong = `wrong-${randomBytes(4).toString('hex')}`;
      const refused = await run(['data-plane'], {
        REDIS_URL: `redis://:${wrong}@${redisWithPassword}`,
        TOLLGATE_SECRET_KEY: SECRET_KEY,
        TOLLGATE_DATA_PLANE_PORT: '18610',
      });
      const line = oneLine(refused);
      expect(line).toMatch(
        new RegExp(
          `^tollgate: REDIS_URL: ${redisWithPassword.replaceAll('.', '\\.')} refused the credentials \\(WRONGPASS`,
        ),
      );
      expect(refused.stdout + refused.stderr).not.toContain(wrong);
      const none = await run(['start'], {
        DATABASE_URL: db.url,
        REDIS_URL: `redis://${redisWithPassword}`,
        TOLLGATE_SECRET_KEY: SECRET_KEY,
        TOLLGATE_DATA_PLANE_PORT: '18610',
        TOLLGATE_CONTROL_PLANE_PORT: '18611',
      });
      expect(oneLine(none)).toMatch(/^tollgate: REDIS_URL: .* requires a password \(NOAUTH/);
      expect(await db.migrated()).toBe(false);
    });

    it('database unreachable or missing: one line naming DATABASE_URL, never the password', async () => {
      const down = await run(['migrate'], {
        DATABASE_URL: `postgres://u:${PASSWORD}@127.0.0.1:${NO_PG}/x`,
      });
      expect(oneLine(down)).toBe(
        `tollgate: DATABASE_URL: cannot reach the database server at 127.0.0.1:${NO_PG}`,
      );
      const missingName = `tg_missing_${randomBytes(4).toString('hex')}`;
      const missing = new URL(PG_ADMIN_URL);
      missing.pathname = `/${missingName}`;
      missing.password = PASSWORD;
      const start = await run(['start'], {
        DATABASE_URL: missing.toString(),
        TOLLGATE_SECRET_KEY: SECRET_KEY,
        TOLLGATE_DATA_PLANE_PORT: '18610',
        TOLLGATE_CONTROL_PLANE_PORT: '18611',
      });
      expect(oneLine(start)).toBe(
        `tollgate: DATABASE_URL: database "${missingName}" does not exist on ${missing.hostname}:${missing.port || 5432}`,
      );
      for (const o of [down, start]) expect(o.stdout + o.stderr).not.toContain(PASSWORD);
    });

    it('workspaces create checks TOLLGATE_SECRET_KEY before migrating', async () => {
      const noKey = await run(['workspaces', 'create', 'acme'], { DATABASE_URL: db.url });
      expect(oneLine(noKey)).toMatch(/^invalid configuration: TOLLGATE_SECRET_KEY is required/);
      expect(await db.migrated()).toBe(false);
    });

    it('workspaces create with extra arguments: usage on stderr, exit 2', async () => {
      await withDir(async (dir) => {
        const dataDir = path.join(dir, '.tollgate');
        const extra = await run(['workspaces', 'create', 'a', 'b'], { TOLLGATE_DATA_DIR: dataDir });
        expect(extra.code).toBe(2);
        expect(extra.stdout).toBe('');
        expect(extra.stderr).toBe('usage: tollgate workspaces create <name>\n');
        await expect(stat(dataDir)).rejects.toThrow();
      });
    }, 90_000);

    it('workspaces create prints only its JSON result on stdout, its logs on stderr', async () => {
      await withDir(async (dir) => {
        const created = await run(['workspaces', 'create', 'acme'], {
          TOLLGATE_DATA_DIR: path.join(dir, '.tollgate'),
        });
        expect(created.code, created.stderr).toBe(0);
        // Scripts do `JSON.parse(stdout)`: nothing else may be on it.
        const result = JSON.parse(created.stdout) as { name: string; admin_key: string };
        expect(result.name).toBe('acme');
        expect(result.admin_key).toMatch(/^sk-tg-admin-/);
        // The log lines (a fresh database: migrations applied) went to stderr.
        expect(created.stderr).toMatch(/"msg":"migrations applied"/);
      });
    }, 90_000);
  },
);

describe('listen failures and port configuration', () => {
  it('equal data-plane and control-plane ports are refused before anything happens', async () => {
    await withDir(async (dir) => {
      const dataDir = path.join(dir, '.tollgate');
      const o = await run(['start'], {
        TOLLGATE_DATA_DIR: dataDir,
        TOLLGATE_DATA_PLANE_PORT: '18612',
        TOLLGATE_CONTROL_PLANE_PORT: '18612',
      });
      const line = oneLine(o);
      expect(line).toContain('TOLLGATE_DATA_PLANE_PORT');
      expect(line).toContain('TOLLGATE_CONTROL_PLANE_PORT');
      expect(o.stdout).toBe('');
      // Not even the embedded data directory was created.
      await expect(stat(dataDir)).rejects.toThrow();
    });
  });

  it('a port in use names its variable, before migrations run or an admin key is printed', async () => {
    const blocker = await listenOn(18_613);
    try {
      await withDir(async (dir) => {
        const o = await run(['start'], {
          TOLLGATE_DATA_DIR: path.join(dir, '.tollgate'),
          TOLLGATE_DATA_PLANE_PORT: '18613',
          TOLLGATE_CONTROL_PLANE_PORT: '18614',
        });
        expect(oneLine(o)).toBe(
          'tollgate: TOLLGATE_DATA_PLANE_PORT: 127.0.0.1:18613 is already in use',
        );
        expect(o.stdout).not.toMatch(/migrations applied|sk-tg-admin|listening/);
      });
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it('an unknown TOLLGATE_HOST is named', async () => {
    await withDir(async (dir) => {
      const o = await run(['start'], {
        TOLLGATE_DATA_DIR: path.join(dir, '.tollgate'),
        TOLLGATE_HOST: 'nohost.invalid',
        TOLLGATE_DATA_PLANE_PORT: '18615',
        TOLLGATE_CONTROL_PLANE_PORT: '18616',
      });
      expect(oneLine(o)).toMatch(/^tollgate: TOLLGATE_HOST: nohost\.invalid /);
      expect(o.stdout).not.toMatch(/migrations applied|sk-tg-admin|listening/);
    });
  });

  it('ports are decimal digits only, 0-65535', async () => {
    const bad = [' ', '0x4852', '1e4', '-1', '+80', '65536', '80.0'];
    const outcomes = await Promise.all(
      bad.map((value) =>
        run(['data-plane'], {
          REDIS_URL: `redis://127.0.0.1:${NO_REDIS}`,
          TOLLGATE_SECRET_KEY: SECRET_KEY,
          TOLLGATE_DATA_PLANE_PORT: value,
        }),
      ),
    );
    for (const o of outcomes) {
      expect(oneLine(o)).toMatch(/^invalid configuration: TOLLGATE_DATA_PLANE_PORT must be a port/);
    }
    const blank = await run(['control-plane'], {
      TOLLGATE_CONTROL_PLANE_PORT: ' ',
      TOLLGATE_DATA_DIR: path.join(tmpdir(), 'tollgate-never-created'),
    });
    expect(oneLine(blank)).toMatch(/^invalid configuration: TOLLGATE_CONTROL_PLANE_PORT /);
  });

  it('TOLLGATE_SECRET_KEY must be canonical base64 of exactly 32 bytes, never echoed', async () => {
    const key = randomBytes(32);
    const bad = [
      `!!${key.toString('base64')}!!`,
      key.toString('base64url'),
      key.toString('base64').replace(/=$/, ''),
      `${key.toString('base64')}\n`,
      randomBytes(33).toString('base64'),
      randomBytes(31).toString('base64'),
    ];
    const outcomes = await Promise.all(
      bad.map((value) =>
        run(['data-plane'], {
          REDIS_URL: `redis://127.0.0.1:${NO_REDIS}`,
          TOLLGATE_SECRET_KEY: value,
        }),
      ),
    );
    for (const [i, o] of outcomes.entries()) {
      expect(oneLine(o)).toMatch(/^invalid configuration: TOLLGATE_SECRET_KEY must be 32 bytes/);
      expect(o.stderr + o.stdout).not.toContain(bad[i]!.trim().slice(2, 30));
    }
  });

  it('TOLLGATE_DRAIN_TIMEOUT_SECONDS is a whole number of seconds, 1-3600', async () => {
    const bad = ['0', '3601', '2.5', 'ten', ' ', '1e2'];
    const outcomes = await Promise.all(
      bad.map((value) =>
        run(['data-plane'], {
          REDIS_URL: `redis://127.0.0.1:${NO_REDIS}`,
          TOLLGATE_SECRET_KEY: SECRET_KEY,
          TOLLGATE_DRAIN_TIMEOUT_SECONDS: value,
        }),
      ),
    );
    for (const o of outcomes) {
      expect(oneLine(o)).toBe(
        'invalid configuration: TOLLGATE_DRAIN_TIMEOUT_SECONDS must be a whole number from 1 to 3600',
      );
    }
  });
});
