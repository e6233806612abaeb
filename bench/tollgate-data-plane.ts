/**
 * Tollgate's data plane as a benchmark target: full enforcement on Redis (key lookup, decide, Redis
 * Lua admit with RPM/TPM/concurrency + spend reservation, settle, usage stream append) in front of the
 * fake upstream. No database: a policy snapshot is built here and published on the bus, as the
 * control plane would.
 *
 * env: PORT (18130)  UPSTREAM_V1 (http://127.0.0.1:18081/v1)  REDIS_URL (redis://127.0.0.1:6379)
 *      BENCH_KEY (sk-test-0000000000000000, the key bench/wrk/post.lua sends)
 *      BENCH_BUS=memory: the in-process bus instead of Redis (same enforcement, in memory; isolates
 *      the data plane's own costs from Redis/ioredis, e.g. for GC tracing)
 *      BENCH_LOG=<level>: log as `tollgate data-plane` does at that level (JSON lines on stdout; at
 *      `info`, the default of TOLLGATE_LOG_LEVEL, one line per request); unset: no log lines
 *
 * Every Redis key lives under the prefix `tgbench-<pid>`; they are deleted on exit (SIGTERM/SIGINT).
 * The usage stream is capped (XADD MAXLEN ~) so nothing accumulates while nobody consumes it.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { createLogger, type LogLevel, planeLogger } from '../apps/cli/src/log.ts';
import { createDataPlane } from '../apps/data-plane/src/index.ts';
import { createBus } from '../packages/bus/src/index.ts';
import { encodeSnapshot, type PolicySnapshotBody } from '../packages/policy/src/index.ts';
import { createKeys } from '../packages/redis/src/index.ts';

// ioredis is a dependency of the workspace packages, not of the repo root: resolve it from there.
const requireFromDataPlane = createRequire(
  new URL('../apps/data-plane/package.json', import.meta.url),
);
const { Redis } = requireFromDataPlane('ioredis') as typeof import('ioredis');

const PORT = Number(process.env.PORT ?? 18130);
const UPSTREAM_V1 = process.env.UPSTREAM_V1 ?? 'http://127.0.0.1:18081/v1';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const KEY = process.env.BENCH_KEY ?? 'sk-test-0000000000000000';
const PREFIX = `tgbench-${process.pid}`;
const IN_PROCESS = process.env.BENCH_BUS === 'memory';
const WS = 'ws_bench';
const SA = 'sa_bench';

const body: PolicySnapshotBody = {
  version: 1,
  revision: 1,
  generatedAt: new Date().toISOString(),
  workspaces: [
    {
      id: WS,
      markupPercent: 10,
      spendCapMicros: null,
      budgetPeriod: 'monthly',
      byokWaivesMarkup: true,
    },
  ],
  subAccounts: [
    {
      id: SA,
      workspaceId: WS,
      status: 'active',
      // $1M a month: a real capped counter that never refuses during a run.
      spendCapMicros: 1_000_000_000_000,
      budgetPeriod: 'monthly',
      // Set (so the Lua limiter checks and counts them) but far above what a run can reach.
      rateLimitRpm: 100_000_000,
      rateLimitRpd: null,
      rateLimitTpm: 1_000_000_000,
      maxConcurrent: 10_000,
      allowedModels: [],
      defaultTag: null,
    },
  ],
  keys: [
    {
      id: 'key_bench',
      subAccountId: SA,
      hash: createHash('sha256').update(KEY).digest('hex'),
      expiresAt: null,
      revoked: false,
    },
  ],
  tagBudgets: [],
  prices: [
    {
      workspaceId: WS,
      model: 'openai/mock',
      inputPerMTok: 150_000,
      outputPerMTok: 600_000,
      cachedInputPerMTok: 75_000,
      cacheWritePerMTok: 150_000,
    },
  ],
  providerRoutes: [],
};

// Short settle-idempotency window and a capped stream: the bench must not grow the shared Redis.
const bus = createBus({
  redisUrl: IN_PROCESS ? undefined : REDIS_URL,
  prefix: PREFIX,
  settledTtlMs: 30_000,
  usageMaxLen: 1_000,
});
const text = encodeSnapshot(body);
await bus.policy.setLatest(text, body.revision);
await bus.policy.publish(body.revision, text);

const LOG_LEVEL = process.env.BENCH_LOG as LogLevel | undefined;
const plane = createDataPlane({
  bus,
  upstreams: { openai: { baseUrl: UPSTREAM_V1, apiKey: 'sk-platform-bench' } },
  ...(LOG_LEVEL ? { log: planeLogger(createLogger(LOG_LEVEL, 'tollgate')) } : {}),
});
const port = await plane.start(PORT);
console.log(
  `tollgate data plane on http://127.0.0.1:${port} -> ${UPSTREAM_V1}, ${IN_PROCESS ? 'in-process bus' : `redis ${REDIS_URL}`} prefix ${PREFIX} (node ${process.version})`,
);

/** Deletes every key of this run's prefix (policy, counters, windows, usage stream). Never FLUSH*. */
async function deleteBenchKeys(): Promise<number> {
  if (IN_PROCESS) return 0;
  const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  let deleted = 0;
  try {
    for (const pattern of createKeys(PREFIX).patterns()) {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) deleted += await client.del(...keys);
      } while (cursor !== '0');
    }
  } finally {
    client.disconnect();
  }
  return deleted;
}

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  const hardStop = setTimeout(() => process.exit(1), 15_000);
  hardStop.unref();
  try {
    await plane.stop();
    await bus.close();
    const n = await deleteBenchKeys();
    console.log(`${signal}: stopped, deleted ${n} redis keys under ${PREFIX}`);
    process.exit(0);
  } catch (err) {
    console.error(`shutdown failed: ${String(err)}`);
    process.exit(1);
  }
}
for (const s of ['SIGINT', 'SIGTERM'] as const) process.on(s, () => void shutdown(s));
