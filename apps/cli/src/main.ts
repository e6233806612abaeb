import { createWorkspace } from '@tollgate/control-plane';
import { migrate } from '@tollgate/db/migrate';
import { EnvError, parseEnv } from './env.ts';
import { createLogger } from './log.ts';
import { loadSecretKey, openMigratedDb, startControlPlane } from './runtime.ts';

const USAGE = `usage: tollgate <command>
  start                      both planes in one process (embedded PGlite unless DATABASE_URL)
  control-plane              the control plane only
  migrate                    apply pending database migrations
  workspaces create <name>   create a workspace and print its first admin key once`;

const print = (line: string) => process.stdout.write(`${line}\n`);

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help') {
    print(USAGE);
    return command ? 0 : 2;
  }
  const env = parseEnv();
  const log = createLogger(env.TOLLGATE_LOG_LEVEL, 'tollgate');
  switch (command) {
    case 'start':
    case 'control-plane': {
      const db = await openMigratedDb(env, log);
      const { plane } = await startControlPlane(env, db, log, print);
      const shutdown = async (signal: string) => {
        log('info', 'shutting down', { signal });
        await plane.stop();
        await db.close();
        process.exit(0);
      };
      process.once('SIGTERM', () => void shutdown('SIGTERM'));
      process.once('SIGINT', () => void shutdown('SIGINT'));
      return -1; // keep running
    }
    case 'migrate': {
      if (env.DATABASE_URL) {
        const { applied } = await migrate({ databaseUrl: env.DATABASE_URL });
        print(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
      } else {
        const db = await openMigratedDb(env, log);
        await db.close();
        print('embedded database is up to date');
      }
      return 0;
    }
    case 'workspaces': {
      const [sub, name] = rest;
      if (sub !== 'create' || !name) {
        print('usage: tollgate workspaces create <name>');
        return 2;
      }
      const db = await openMigratedDb(env, log);
      try {
        const deps = { prisma: db.prisma, secretKey: await loadSecretKey(env) };
        const { workspace, adminKey } = await createWorkspace(deps, 'cli', { name });
        print(JSON.stringify({ id: workspace.id, name: workspace.name, admin_key: adminKey }));
      } finally {
        await db.close();
      }
      return 0;
    }
    default:
      print(`unknown command '${command}'\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    if (err instanceof EnvError) process.stderr.write(`${err.message}\n`);
    else process.stderr.write(`tollgate: ${(err as Error)?.message ?? String(err)}\n`);
    process.exit(1);
  },
);
