// What a command that runs the control plane (or touches the database) needs. The data plane's own
// part is in data-runtime.ts, so `tollgate data-plane` loads neither the control plane nor Prisma
// nor PGlite (main.ts imports each part only for the commands that use it).
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import type { Bus } from '@tollgate/bus';
import {
  attachControlPlaneSources,
  buildControlPlane,
  type ControlPlane,
  checkSecretKey,
  createAuthenticator,
  createClientAddress,
  createControlPlaneMetrics,
  createCounterCatchUp,
  createPolicyPublisher,
  createTouchedCounters,
  ensureDefaultWorkspace,
  type PolicyChange,
  type PolicyPublisher,
  reservationView,
  startCounterReconciler,
  startEventServices,
  startUsageIngest,
  type UsageIngest,
} from '@tollgate/control-plane';
import { type Db, openDatabase } from '@tollgate/db';
import { MigrationHistoryError, migrate } from '@tollgate/db/migrate';
import { decodeSecretKey, type Env, EnvError } from './env.ts';
import type { Logger } from './log.ts';
import { hostPort, listenError, oneLine, redact, StartupError } from './preflight.ts';
import { hostUrl, localUrl } from './urls.ts';

/** What Prisma's driver adapter says about a failed connection (`meta.driverAdapterError.cause`). */
interface AdapterCause {
  kind?: string;
  db?: string;
  user?: string;
  reason?: string;
  originalMessage?: string;
  message?: string;
  cause?: string;
}

/** A failure to reach or use DATABASE_URL as one line naming it, without the password. */
export function databaseError(err: unknown, databaseUrl: string): StartupError {
  let where = 'the database server';
  try {
    const u = new URL(databaseUrl);
    where = hostPort(u.hostname.replace(/^\[|\]$/g, '') || 'localhost', u.port || 5432);
  } catch {
    // validated as a URL already
  }
  const e = err as { message?: string; meta?: { driverAdapterError?: { cause?: AdapterCause } } };
  const cause = e?.meta?.driverAdapterError?.cause;
  const detail = (text: string | undefined) => (text ? ` (${oneLine(text)})` : '');
  let line: string;
  switch (cause?.kind) {
    case 'DatabaseNotReachable':
      line = `cannot reach the database server at ${where}`;
      break;
    case 'DatabaseDoesNotExist':
      line = `database "${cause.db ?? '?'}" does not exist on ${where}`;
      break;
    case 'DatabaseAccessDenied':
      line = `access denied on ${where}${detail(cause.originalMessage)}`;
      break;
    case 'AuthenticationFailed':
      line = `authentication failed on ${where}${cause.user ? ` for user "${cause.user}"` : ''}`;
      break;
    case 'TlsConnectionError':
      line = `TLS connection to ${where} failed${detail(cause.reason)}`;
      break;
    case 'SocketTimeout':
      line = `connection to ${where} timed out`;
      break;
    case 'ConnectionClosed':
      line = `${where} closed the connection`;
      break;
    case 'TooManyConnections':
      line = `${where} has too many connections${detail(cause.cause)}`;
      break;
    default: {
      const text = cause?.originalMessage ?? cause?.message ?? e?.message ?? String(err);
      line = `${where}: ${oneLine(text.replace(/^Invalid `prisma\.\$queryRaw\(\)` invocation:/, ''))}`;
    }
  }
  return new StartupError(redact(`DATABASE_URL: ${line}`, databaseUrl));
}

/** Connects to DATABASE_URL and runs `SELECT 1`: a database that is down, missing or refusing us
 * stops start-up with one line naming DATABASE_URL, before anything is migrated. */
export async function checkDatabase(databaseUrl: string): Promise<void> {
  const db = await openDatabase({ databaseUrl });
  try {
    await db.prisma.$queryRaw`SELECT 1`;
  } catch (err) {
    throw databaseError(err, databaseUrl);
  } finally {
    await db.close().catch(() => undefined);
  }
}

/** Checks DATABASE_URL, then applies pending migrations; a failure is one line, never the password. */
export async function migrateDatabase(databaseUrl: string): Promise<string[]> {
  await checkDatabase(databaseUrl);
  try {
    return (await migrate({ databaseUrl })).applied;
  } catch (err) {
    // Its message already says what is wrong and what to do; it holds no part of the URL.
    if (err instanceof MigrationHistoryError) {
      throw new StartupError(`DATABASE_URL: ${err.message}`);
    }
    throw new StartupError(
      redact(
        `migrating DATABASE_URL failed: ${oneLine((err as Error)?.message ?? String(err))}`,
        databaseUrl,
      ),
    );
  }
}

/** Opens PostgreSQL (DATABASE_URL) or the embedded PGlite in `<data dir>/pgdata`, migrated. */
export async function openMigratedDb(env: Env, log: Logger): Promise<Db> {
  if (env.DATABASE_URL) {
    const applied = await migrateDatabase(env.DATABASE_URL);
    if (applied.length) log('info', 'migrations applied', { applied });
    return openDatabase({ databaseUrl: env.DATABASE_URL });
  }
  const { db, applied, dataDir } = await openEmbeddedMigrated(env);
  if (applied.length) log('info', 'migrations applied', { applied, dataDir });
  return db;
}

/** `tollgate migrate` on the embedded database: the migrations it applied (none when up to date). */
export async function migrateEmbedded(env: Env): Promise<string[]> {
  const { db, applied } = await openEmbeddedMigrated(env);
  await db.close();
  return applied;
}

async function openEmbeddedMigrated(env: Env) {
  const dataDir = path.resolve(env.TOLLGATE_DATA_DIR, 'pgdata');
  const db = await openDatabase({ dataDir });
  try {
    const { applied } = await migrate({ pglite: db.pglite! });
    return { db, applied, dataDir };
  } catch (err) {
    // Closed, so the data dir's lock is released before the process reports and exits.
    await db.close().catch(() => undefined);
    if (err instanceof MigrationHistoryError) throw new StartupError(`${dataDir}: ${err.message}`);
    throw err;
  }
}

/**
 * TOLLGATE_SECRET_KEY, or — embedded only — a key generated once into the data dir (mode 0600).
 * With an external database a generated key would differ per replica, so it is required there.
 */
export async function loadSecretKey(env: Env): Promise<Buffer> {
  if (env.TOLLGATE_SECRET_KEY) return decodeSecretKey(env.TOLLGATE_SECRET_KEY)!;
  if (env.DATABASE_URL) {
    throw new EnvError([
      'invalid configuration: TOLLGATE_SECRET_KEY is required with DATABASE_URL (openssl rand -base64 32)',
    ]);
  }
  const file = path.resolve(env.TOLLGATE_DATA_DIR, 'secret.key');
  try {
    const key = decodeSecretKey((await readFile(file, 'utf8')).trim());
    if (key !== null) return key;
    throw new Error(`invalid configuration: ${file} does not hold a 32-byte base64 key`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(path.dirname(file), { recursive: true });
  const key = randomBytes(32);
  await writeFile(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  return key;
}

export interface RunningControlPlane {
  plane: ControlPlane;
  port: number;
  publisher: PolicyPublisher;
  ingest: UsageIngest;
  /** Resolves once every usage entry appended so far is ingested (or after `ms`: false). */
  ingested(ms: number): Promise<boolean>;
  stop(): Promise<void>;
}

/** Where to open the ops console: the control plane's `/`. */
export function consoleUrl(host: string, port: number): string {
  return `${localUrl(host, port)}/`;
}

/**
 * The control plane on `db`: the admin API, the policy publisher (a snapshot at start, then one
 * delta per committed change) and the usage ingest. Prints a generated admin key once.
 */
export async function startControlPlane(
  env: Env,
  db: Db,
  bus: Bus,
  log: Logger,
  print: (line: string) => void,
  /** `tollgate start`: also the human line pointing at the console (a separate control plane
   * logs JSON only, SPEC §9). */
  interactive = false,
): Promise<RunningControlPlane> {
  const secretKey = await loadSecretKey(env);
  // A key that cannot open the database's sealed secrets stops start-up, naming the variable.
  await checkSecretKey(db.prisma, secretKey);
  const publisher = createPolicyPublisher({
    prisma: db.prisma,
    bus: bus.policy,
    onError: (err) => log('error', 'policy publish failed', { error: String(err) }),
  });
  // Budget events: live fan-out over the bus (Redis pub/sub or in-process) and the webhook queue.
  const events = await startEventServices({
    prisma: db.prisma,
    events: bus.events,
    secretKey,
    allowPrivateWebhookUrls: env.TOLLGATE_ALLOW_PRIVATE_WEBHOOKS,
    thresholds: env.TOLLGATE_BUDGET_WARNING_PERCENTS,
    onError: (err) => log('error', 'event delivery failed', { error: String(err) }),
  });
  const metrics = createControlPlaneMetrics();
  // The spend counters usage and policy changes touched: the minutely top-up reads only those.
  const touched = createTouchedCounters();
  const deps = {
    ...events.deps,
    prisma: db.prisma,
    secretKey,
    allowPrivateWebhookUrls: env.TOLLGATE_ALLOW_PRIVATE_WEBHOOKS,
    allowPrivateUpstreams: env.TOLLGATE_ALLOW_PRIVATE_UPSTREAMS,
    clientAddress: createClientAddress(env.TOLLGATE_TRUSTED_PROXIES),
    authenticator: createAuthenticator(db.prisma, env.TOLLGATE_ROOT_KEY ?? null, {
      failures: bus.failures,
      onFailure: () => metrics.authFailures.inc(),
      onThrottled: () => metrics.authThrottled.inc(),
    }),
    metrics,
    metricsToken: env.TOLLGATE_METRICS_TOKEN,
    // `reserved_cents` of a sub-account: what its requests in flight hold on its counter now.
    reservations: reservationView(bus.limiter),
    onPolicyChange: (change: PolicyChange) => {
      publisher.onPolicyChange(change);
      touched.change(change);
    },
    // A tag budget created or a budget period changed mid-period: its counters get the books'
    // figures inside the change's transaction, before any data plane can hear of it.
    catchUpCounters: createCounterCatchUp({
      limiter: bus.limiter,
      onError: (err) => log('error', 'spend counter catch-up failed', { error: String(err) }),
      onRaised: (workspaceId, scope, period, spentMicros) =>
        log('info', 'spend counter caught up from the books', {
          workspaceId,
          scope,
          period,
          spentMicros,
        }),
    }),
    log,
    readyChecks: {
      database: () => db.prisma.$queryRaw`SELECT 1`,
      ...(bus.ping === undefined ? {} : { redis: () => bus.ping!() }),
    },
  };
  const boot = await ensureDefaultWorkspace(deps, env.TOLLGATE_ADMIN_KEY ?? null);
  if (boot.printOnce) {
    print('');
    print('  Tollgate admin key for workspace "default" (shown once — store it now):');
    print(`    ${boot.printOnce}`);
    print('');
  }
  if (boot.adminKeyRevoked) {
    log(
      'warn',
      'TOLLGATE_ADMIN_KEY has been revoked and is not accepted: unset it or set a current admin key',
    );
  }
  const revision = await publisher.start();
  log('info', 'policy published', { revision });
  const group = 'control-plane';
  const ingest = await startUsageIngest({
    prisma: db.prisma,
    usage: bus.usage,
    group,
    consumer: `${hostname()}-${process.pid}`,
    afterWrite: async (usage) => {
      touched.usage(usage);
      await events.afterUsage(usage);
    },
    onIngested: (fresh) => metrics.ingested.inc(fresh.length),
    onError: (err) => log('error', 'usage ingest failed', { error: String(err) }),
  });
  // Spend counters come from the books whenever Redis has lost them (and on a first start).
  // Rebuilt in the pass at start: expected (in-process counters never outlive the process; a Redis
  // may never have held them). Later: Redis lost its data while we ran — operators want to know.
  let starting = true;
  const reconciler = await startCounterReconciler({
    prisma: db.prisma,
    limiter: bus.limiter,
    onError: (err) => log('error', 'counter rebuild failed', { error: String(err) }),
    touched,
    // Spend that reached the books but not the counters (a settle given up on during an outage):
    // one line per top-up pass, each counter at debug level.
    onTopUp: (summary) => {
      if (summary.raised > 0)
        log('warn', 'spend counters behind the books: raised to them', { ...summary });
      else log('debug', 'spend counters checked against the books', { ...summary });
    },
    onRaised: (workspaceId, scope, periodKey, spentMicros, beforeMicros) =>
      log('debug', 'spend counter behind the books: raised to them', {
        workspaceId,
        scope,
        periodKey,
        spentMicros,
        beforeMicros,
      }),
    onRebuilt: (workspaceId, counters) => {
      // After start, a workspace with spend whose counters vanished: Redis lost them. One with none
      // is most likely new (created since: it never had counters), nothing to alarm anyone about.
      const lost = !starting && counters > 0;
      const message = starting
        ? 'spend counters loaded from the books'
        : lost
          ? 'spend counters lost by Redis: rebuilt from the books'
          : 'spend counters set up (nothing spent this period)';
      log(lost ? 'warn' : 'info', message, { workspaceId, counters });
      // Redis lost its data, and with it the snapshot data planes read when they start: store it again.
      publisher.schedule();
    },
  });
  starting = false;
  attachControlPlaneSources(metrics, {
    prisma: db.prisma,
    usage: bus.usage,
    group,
    publishedRevision: publisher.publishedRevision,
  });
  const plane = buildControlPlane(deps);
  const port = await plane
    .start(env.TOLLGATE_CONTROL_PLANE_PORT, env.TOLLGATE_HOST)
    .catch((err: unknown) => {
      throw listenError(
        'TOLLGATE_CONTROL_PLANE_PORT',
        env.TOLLGATE_HOST,
        env.TOLLGATE_CONTROL_PLANE_PORT,
        err,
      );
    });
  log('info', 'control plane listening', {
    url: hostUrl(env.TOLLGATE_HOST, port),
    database: db.kind,
    bus: bus.mode,
  });
  const consoleAt = consoleUrl(env.TOLLGATE_HOST, port);
  log('info', 'ops console', { url: consoleAt });
  if (interactive) print(`  Ops console: ${consoleAt}`);
  return {
    plane,
    port,
    publisher,
    ingest,
    async ingested(ms) {
      const deadline = Date.now() + ms;
      for (;;) {
        const lag = await bus.usage.lag?.(group).catch(() => null);
        if (lag === undefined) return true;
        if (lag !== null && lag.pending === 0 && lag.undelivered === 0) return true;
        if (Date.now() >= deadline) return false;
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    stop: async () => {
      await plane.stop();
      await reconciler.stop();
      await publisher.stop();
      await ingest.stop();
      await events.stop();
    },
  };
}
