import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A port on 127.0.0.1 that refuses connections, and keeps refusing them: free now and below the
 * kernel's ephemeral range (32768–60999 by default), so no `listen(0)` of a parallel test — nor the
 * client side of any connection — is ever given it. (A port taken from `freePort()` and left closed
 * can be handed to the next test's server within the same run.)
 */
export async function refusedPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

export interface PrivateRedis {
  url: string;
  /** Stops the server (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port (empty: nothing is persisted). */
  restart(): Promise<void>;
}

async function spawnRedis(port: number, args: readonly string[]): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  const until = Date.now() + 10_000;
  while (!/Ready to accept connections/i.test(out)) {
    if (child.exitCode !== null || Date.now() > until)
      throw new Error(`redis-server did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return child;
}

/**
 * A redis-server of the test's own on a free port, which the test may stop and start again to see
 * how a plane behaves while Redis is away — never the shared server other test runs use.
 */
export async function startPrivateRedis(
  /** More server options, e.g. `['--requirepass', secret]`. */
  args: readonly string[] = [],
): Promise<PrivateRedis> {
  const port = await freePort();
  let child = await spawnRedis(port, args);
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    await exited;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    stop,
    async restart() {
      await stop();
      child = await spawnRedis(port, args);
    },
  };
}

/**
 * How many Lua scripts (EVALSHA and EVAL) a Redis server has run since it started, from `INFO
 * commandstats`: a test on a server of its own (`startPrivateRedis`) counts the round trips a piece
 * of code makes — the shared server's figures include every other test run. Calls that failed
 * (an EVALSHA answered NOSCRIPT, before the EVAL that loads its script) are not counted.
 */
export async function scriptsRun(url: string): Promise<number> {
  const client = new Redis(url);
  try {
    const stats = await client.info('commandstats');
    let n = 0;
    for (const m of stats.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+),.*failed_calls=(\d+)/g))
      n += Number(m[1]) - Number(m[2]);
    return n;
  } finally {
    client.disconnect();
  }
}
