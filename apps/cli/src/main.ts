import './quiet-warnings.ts';
import {
  checkPlanePorts,
  decodeSecretKey,
  type Env,
  EnvError,
  parseEnv,
  unknownVariables,
} from './env.ts';
import { createLogger } from './log.ts';
import { checkListen, checkRedis, oneLine } from './preflight.ts';
import { localUrl } from './urls.ts';

// Each command imports what it runs, when it runs: `tollgate data-plane` never loads the control
// plane, Prisma or PGlite (≈ 100 MB less per data-plane replica, and it listens sooner).
const controlRuntime = () => import('./runtime.ts');
const dataRuntime = () => import('./data-runtime.ts');

const USAGE = `usage: tollgate <command>
  start                      both planes in one process (embedded PGlite unless DATABASE_URL,
                             in-process bus unless REDIS_URL)
  control-plane              the control plane only (REDIS_URL to reach separate data planes)
  data-plane                 one data plane (needs REDIS_URL and TOLLGATE_SECRET_KEY; admin paths
                             are forwarded to TOLLGATE_CONTROL_PLANE_URL)
  migrate                    apply pending database migrations
  workspaces create <name>   create a workspace and print its first admin key once`;

const print = (line: string) => process.stdout.write(`${line}\n`);
/** Usage mistakes: the usage goes to stderr (stdout is for results), exit 2. */
const printError = (line: string) => process.stderr.write(`${line}\n`);

/**
 * What must hold before anything is migrated, printed or listened on: the ports free and the host
 * known, and Redis answering with these credentials. Each failure is one line naming the variable.
 */
async function preflight(
  env: Env,
  ports: ('TOLLGATE_DATA_PLANE_PORT' | 'TOLLGATE_CONTROL_PLANE_PORT')[],
) {
  for (const variable of ports) await checkListen(variable, env.TOLLGATE_HOST, env[variable]);
  if (env.REDIS_URL) await checkRedis(env.REDIS_URL);
}

/** SIGTERM/SIGINT: stop accepting, drain, flush, close — then exit 0 (SPEC §9). */
function onShutdown(log: ReturnType<typeof createLogger>, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log('info', 'shutting down', { signal });
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log('error', 'shutdown failed', { error: String(err) });
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => handler('SIGTERM'));
  process.once('SIGINT', () => handler('SIGINT'));
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help') {
    print(USAGE);
    return command ? 0 : 2;
  }
  if (command === 'workspaces') {
    const [sub, name, ...extra] = rest;
    if (sub !== 'create' || !name || extra.length > 0) {
      printError('usage: tollgate workspaces create <name>');
      return 2;
    }
  }
  const env = parseEnv();
  // `workspaces create` prints its result as JSON on stdout (scripts parse it): its logs go to stderr.
  const log = createLogger(
    env.TOLLGATE_LOG_LEVEL,
    'tollgate',
    command === 'workspaces' ? process.stderr : process.stdout,
  );
  for (const { name, meant } of unknownVariables()) {
    log('warn', `${name} is not a Tollgate setting and is ignored`, meant ? { meant } : {});
  }
  switch (command) {
    case 'start':
    case 'control-plane': {
      const both = command === 'start';
      if (both) checkPlanePorts(env);
      // A control plane on Redis shares it with data planes and other control planes: its own
      // embedded database would take usage off the shared stream into a copy nobody else reads, and
      // publish its own policy over everyone's.
      if (!both && env.REDIS_URL && !env.DATABASE_URL) {
        throw new EnvError([
          'invalid configuration: DATABASE_URL is required for a control plane on REDIS_URL (every control plane of an installation shares one database); for one process on the embedded database run `tollgate start`',
        ]);
      }
      if (!both && !env.REDIS_URL) {
        log(
          'warn',
          'REDIS_URL is unset: data planes in other processes cannot reach this control plane',
        );
      }
      const { loadSecretKey, openMigratedDb, startControlPlane } = await controlRuntime();
      const { openBus, startDataPlane } = await dataRuntime();
      // A missing TOLLGATE_SECRET_KEY stops start-up before anything is migrated or opened.
      const secretKey = await loadSecretKey(env);
      await preflight(
        env,
        both
          ? ['TOLLGATE_CONTROL_PLANE_PORT', 'TOLLGATE_DATA_PLANE_PORT']
          : ['TOLLGATE_CONTROL_PLANE_PORT'],
      );
      const db = await openMigratedDb(env, log);
      const bus = openBus(env);
      const cp = await startControlPlane(env, db, bus, log, print, both);
      const dp = both
        ? await startDataPlane(env, bus, secretKey, localUrl(env.TOLLGATE_HOST, cp.port), log)
        : null;
      onShutdown(log, async () => {
        // Drain the data plane first: its last usage events must reach the ingest before it stops.
        await dp?.plane.stop();
        // In-process, the usage stream dies with the process: ingest all of it first (bounded).
        if (dp && bus.mode === 'in-process' && !(await cp.ingested(10_000))) {
          log('error', 'shutdown: usage not all ingested within 10 s; the rest is lost');
        }
        await cp.stop();
        await bus.close();
        await db.close();
      });
      return -1; // keep running
    }
    case 'data-plane': {
      if (!env.REDIS_URL) {
        throw new EnvError([
          'invalid configuration: REDIS_URL is required for a separate data plane (or run `tollgate start`)',
        ]);
      }
      if (!env.TOLLGATE_SECRET_KEY) {
        throw new EnvError([
          "invalid configuration: TOLLGATE_SECRET_KEY is required for a separate data plane (the control plane's key)",
        ]);
      }
      const { openBus, startDataPlane } = await dataRuntime();
      if (!env.TOLLGATE_CONTROL_PLANE_URL) {
        log(
          'warn',
          'TOLLGATE_CONTROL_PLANE_URL is unset: admin paths and /v1/usage on this data plane answer 404',
        );
      }
      await preflight(env, ['TOLLGATE_DATA_PLANE_PORT']);
      const bus = openBus(env);
      const dp = await startDataPlane(
        env,
        bus,
        decodeSecretKey(env.TOLLGATE_SECRET_KEY)!,
        env.TOLLGATE_CONTROL_PLANE_URL,
        log,
      );
      onShutdown(log, async () => {
        const { undeliveredUsage } = await dp.plane.stop();
        await bus.close();
        // Lost usage (Redis unreachable through the stop) exits 1, so a supervisor sees it.
        if (undeliveredUsage > 0) {
          throw new Error(`${undeliveredUsage} usage events could not be handed to Redis: lost`);
        }
      });
      return -1;
    }
    case 'migrate': {
      const { migrateDatabase, migrateEmbedded } = await controlRuntime();
      // One plain line either way: what was applied, or that nothing was needed.
      const applied = env.DATABASE_URL
        ? await migrateDatabase(env.DATABASE_URL)
        : await migrateEmbedded(env);
      const which = env.DATABASE_URL ? 'database' : 'embedded database';
      print(applied.length ? `applied: ${applied.join(', ')}` : `${which} is up to date`);
      return 0;
    }
    case 'workspaces': {
      const name = rest[1]!; // checked above, before the environment
      const { loadSecretKey, openMigratedDb } = await controlRuntime();
      const { createWorkspace } = await import('@tollgate/control-plane');
      // As `start`: a missing TOLLGATE_SECRET_KEY stops it before the database is touched.
      const secretKey = await loadSecretKey(env);
      const db = await openMigratedDb(env, log);
      try {
        const deps = { prisma: db.prisma, secretKey };
        const { workspace, adminKey } = await createWorkspace(deps, 'cli', { name });
        print(JSON.stringify({ id: workspace.id, name: workspace.name, admin_key: adminKey }));
      } finally {
        await db.close();
      }
      return 0;
    }
    default:
      printError(`unknown command '${command}'\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    if (err instanceof EnvError) process.stderr.write(`${err.message}\n`);
    // One line whatever failed (Prisma's messages span several, with blank lines).
    else process.stderr.write(`tollgate: ${oneLine((err as Error)?.message ?? String(err))}\n`);
    process.exit(1);
  },
);
