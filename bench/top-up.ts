/**
 * The control plane's counter top-up (apps/control-plane/src/ingest/reconcile.ts) at scale: one
 * workspace with N capped sub-accounts, each with spend in today's rollup, their counters rebuilt
 * into a private Redis (so `INFO commandstats` counts only this run), then top-up passes:
 *   steady  — every counter already holds the books' figure;
 *   behind  — 1 % of the sub-accounts got spend in the books that never reached their counters,
 *             and another 1 % of counters are ahead of the books (must not be lowered);
 *   touched — (when the reconciler tracks touched counters) usage of 10 sub-accounts ingested,
 *             then a pass.
 * Per pass: wall time, Redis scripts run (EVALSHA/EVAL calls), Redis commands in all, counters
 * raised, lines the per-counter callback would have logged. Needs PostgreSQL (TG_TEST_PG_ADMIN_URL,
 * default postgres://postgres@127.0.0.1:5432/postgres) and `redis-server` on the PATH.
 *   node --import tsx bench/top-up.ts [subAccounts=100000]
 */

import { createRequire } from 'node:module';
import { booksBalances } from '../apps/control-plane/src/ingest/books.ts';
import * as reconcile from '../apps/control-plane/src/ingest/reconcile.ts';
import { createRedisLimiter } from '../packages/bus/src/index.ts';
import { openDatabase } from '../packages/db/src/index.ts';
import { periodKey } from '../packages/policy/src/index.ts';
import { createPgDatabase, startPrivateRedis } from '../packages/testkit/src/index.ts';

const req = createRequire(new URL('../packages/bus/package.json', import.meta.url));
const { Redis } = req('ioredis') as typeof import('ioredis');
const N = Number(process.argv[2] ?? 100_000);
const WS = 'ws_bench_topup';

async function commandStats(c: InstanceType<typeof Redis>) {
  const s = (await c.info('commandstats')) as string;
  let scripts = 0;
  let all = 0;
  let usec = 0;
  for (const x of s.matchAll(/cmdstat_(\w+):calls=(\d+),usec=(\d+)/g)) {
    if (x[1] === 'info') continue;
    all += Number(x[2]);
    if (x[1] === 'evalsha' || x[1] === 'eval') scripts += Number(x[2]);
    if (x[1] === 'evalsha' || x[1] === 'eval' || x[1] === 'get') usec += Number(x[3]);
  }
  return { scripts, all, usec };
}

const pg = await createPgDatabase();
const redis = await startPrivateRedis();
const db = await openDatabase({ databaseUrl: pg.url });
const client = new Redis(redis.url);
const stats = new Redis(redis.url);
try {
  const prisma = db.prisma;
  const t0 = Date.now();
  await prisma.$executeRaw`INSERT INTO "Workspace" (id, name, "spendCapMicros", "updatedAt")
    VALUES (${WS}, 'bench', ${BigInt(N) * 1_000_000n}, now())`;
  await prisma.$executeRaw`INSERT INTO "SubAccount" (id, "workspaceId", name, "spendCapMicros", "updatedAt")
    SELECT 'sa_b' || i, ${WS}, 'b' || i, 5000000, now() FROM generate_series(1, ${N}::int) i`;
  await prisma.$executeRaw`INSERT INTO "UsageRollupDaily" ("workspaceId", "subAccountId", model, day, requests, "billedCostMicros")
    SELECT ${WS}, 'sa_b' || i, 'openai/gpt-5.4-mini', (now() at time zone 'utc')::date, 1, 1000 + i % 7
    FROM generate_series(1, ${N}::int) i`;
  console.log(`setup: ${N} sub-accounts with spend today in ${Date.now() - t0} ms`);

  const limiter = createRedisLimiter({ client, prefix: 'bench' });
  let lines = 0;
  // The bench also runs against the reconciler before its top-up change (no `touched`, no
  // `onTopUp`: ignored there), for the figures before and after.
  // biome-ignore lint/suspicious/noExplicitAny: options the older reconciler does not know
  const api = reconcile as any;
  // The tracker exists only after the change (ingest/touched.ts): without it, every pass is full.
  const tracker = await import('../apps/control-plane/src/ingest/touched.ts').catch(() => null);
  const touched = tracker?.createTouchedCounters();
  let summary: unknown = null;
  const reconciler: reconcile.CounterReconciler = api.createCounterReconciler({
    prisma,
    limiter,
    touched,
    onRaised: () => lines++,
    onTopUp: (s: unknown) => {
      summary = s;
    },
    onError: (err: unknown) => console.error('reconciler error', err),
  });
  let t = Date.now();
  const rebuilt = await reconciler.runOnce();
  console.log(`rebuild (restore) of ${rebuilt.length} workspace: ${Date.now() - t} ms`);

  async function pass(name: string) {
    lines = 0;
    summary = null;
    const before = await commandStats(stats);
    const started = process.hrtime.bigint();
    const raised = await reconciler.topUpOnce();
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const after = await commandStats(stats);
    console.log(
      `${name.padEnd(8)} ${ms.toFixed(0).padStart(6)} ms  scripts ${String(after.scripts - before.scripts).padStart(6)}  commands ${String(after.all - before.all).padStart(7)}  redis busy ${String(Math.round((after.usec - before.usec) / 1000)).padStart(5)} ms  raised ${String(raised).padStart(5)}  per-counter lines ${lines}`,
    );
    if (summary) console.log(`         summary ${JSON.stringify(summary)}`);
  }

  t = Date.now();
  const books = await booksBalances(prisma, WS, Date.now());
  console.log(`books read alone (every counter): ${books.length} counters in ${Date.now() - t} ms`);
  await pass('steady');
  await pass('steady');
  const behind = Math.max(1, Math.floor(N / 100));
  // Spend in the books that never reached the counters, on sub-accounts 1..behind.
  await prisma.$executeRaw`UPDATE "UsageRollupDaily" SET "billedCostMicros" = "billedCostMicros" + 500
    WHERE "workspaceId" = ${WS} AND "subAccountId" IN (SELECT 'sa_b' || i FROM generate_series(1, ${behind}::int) i)`;
  // Counters ahead of the books (settled, not ingested yet) on the last `behind` sub-accounts.
  const period = periodKey('monthly', Date.now());
  for (let i = N - behind + 1; i <= N; i++) {
    await limiter.raise(
      WS,
      { scope: `sa:sa_b${i}`, capMicros: 5_000_000, periodKey: period },
      9_999,
    );
  }
  touched?.usage(
    Array.from({ length: behind }, (_, i) => ({
      workspaceId: WS,
      subAccountId: `sa_b${i + 1}`,
      tags: [],
      billedCostMicros: 500,
    })),
  );
  await pass('behind');
  if (touched) {
    await prisma.$executeRaw`UPDATE "UsageRollupDaily" SET "billedCostMicros" = "billedCostMicros" + 300
      WHERE "workspaceId" = ${WS} AND "subAccountId" IN (SELECT 'sa_b' || i FROM generate_series(1, 10) i)`;
    touched.usage(
      Array.from({ length: 10 }, (_, i) => ({
        workspaceId: WS,
        subAccountId: `sa_b${i + 1}`,
        tags: [],
        billedCostMicros: 300,
      })),
    );
    await pass('touched');
    await pass('idle');
  }
} finally {
  await Promise.all([client.quit(), stats.quit()]);
  await db.close();
  await pg.drop();
  await redis.stop();
}
