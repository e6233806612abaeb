import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  buildControlPlane,
  createAuthenticator,
  ensureDefaultWorkspace,
} from '@tollgate/control-plane';
import { type Db, openDatabase } from '@tollgate/db';
import { migrate } from '@tollgate/db/migrate';
import type { Env } from './env.ts';
import type { Logger } from './log.ts';

/** Opens PostgreSQL (DATABASE_URL) or the embedded PGlite in `<data dir>/pgdata`, migrated. */
export async function openMigratedDb(env: Env, log: Logger): Promise<Db> {
  if (env.DATABASE_URL) {
    const { applied } = await migrate({ databaseUrl: env.DATABASE_URL });
    if (applied.length) log('info', 'migrations applied', { applied });
    return openDatabase({ databaseUrl: env.DATABASE_URL });
  }
  const dataDir = path.resolve(env.TOLLGATE_DATA_DIR, 'pgdata');
  const db = await openDatabase({ dataDir });
  const { applied } = await migrate({ pglite: db.pglite! });
  if (applied.length) log('info', 'migrations applied', { applied, dataDir });
  return db;
}

/**
 * TOLLGATE_SECRET_KEY, or — embedded only — a key generated once into the data dir (mode 0600).
 * With an external database a generated key would differ per replica, so it is required there.
 */
export async function loadSecretKey(env: Env): Promise<Buffer> {
  if (env.TOLLGATE_SECRET_KEY) return Buffer.from(env.TOLLGATE_SECRET_KEY, 'base64');
  if (env.DATABASE_URL) {
    throw new Error(
      'invalid configuration: TOLLGATE_SECRET_KEY is required with DATABASE_URL (openssl rand -base64 32)',
    );
  }
  const file = path.resolve(env.TOLLGATE_DATA_DIR, 'secret.key');
  try {
    const key = Buffer.from((await readFile(file, 'utf8')).trim(), 'base64');
    if (key.length === 32) return key;
    throw new Error(`invalid configuration: ${file} does not hold a 32-byte base64 key`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(path.dirname(file), { recursive: true });
  const key = randomBytes(32);
  await writeFile(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  return key;
}

/** Starts the control plane on the given database; prints a generated admin key once. */
export async function startControlPlane(
  env: Env,
  db: Db,
  log: Logger,
  print: (line: string) => void,
) {
  const secretKey = await loadSecretKey(env);
  const deps = {
    prisma: db.prisma,
    secretKey,
    allowPrivateWebhookUrls: env.TOLLGATE_ALLOW_PRIVATE_WEBHOOKS,
    authenticator: createAuthenticator(db.prisma, env.TOLLGATE_ROOT_KEY ?? null),
    log,
    ready: async () => {
      await db.prisma.$queryRaw`SELECT 1`;
      return true;
    },
  };
  const boot = await ensureDefaultWorkspace(deps, env.TOLLGATE_ADMIN_KEY ?? null);
  if (boot.printOnce) {
    print('');
    print('  Tollgate admin key for workspace "default" (shown once — store it now):');
    print(`    ${boot.printOnce}`);
    print('');
  }
  const plane = buildControlPlane(deps);
  const port = await plane.start(env.TOLLGATE_CONTROL_PLANE_PORT, env.TOLLGATE_HOST);
  log('info', 'control plane listening', {
    url: `http://${env.TOLLGATE_HOST}:${port}`,
    database: db.kind,
  });
  return { plane, port, deps };
}
