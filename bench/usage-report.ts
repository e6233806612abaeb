/**
 * The sub-account usage report (`GET /v1/sub-accounts/{id}/usage`, apps/control-plane/src/services/
 * usage.ts) for one busy sub-account: N usage records over 30 days (plus other sub-accounts'
 * traffic), written through the real ingest, then each range asked `RUNS` times:
 *   records — the report as it was, four scans of the raw records over the range;
 *   rollups — the report as it is, whole days from the rollups, the edge days from the records.
 * Prints the ingest time and, per range, the median and worst time of each, and checks that both
 * answer the same. Needs PostgreSQL (TG_TEST_PG_ADMIN_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres).
 *   node --import tsx bench/usage-report.ts [records=100000]
 */

import { writeUsage } from '../apps/control-plane/src/ingest/write-usage.ts';
import type { ServiceDeps } from '../apps/control-plane/src/services/context.ts';
import { type Range, usageReport } from '../apps/control-plane/src/services/usage.ts';
import { openDatabase, Prisma, type PrismaClient } from '../packages/db/src/index.ts';
import { createPgDatabase } from '../packages/testkit/src/index.ts';
import type { UsageEvent } from '../packages/usage/src/index.ts';

const N = Number(process.argv[2] ?? 100_000);
const OTHERS = Math.round(N / 5);
const RUNS = 9;
const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 8, 1, 30);
const WS = 'ws_bench_report';
const MODELS = ['openai/gpt-5.4-mini', 'openai/gpt-5.4', 'anthropic/claude-sonnet-4.6'];
const TAGS = [[], ['prod'], ['prod', 'team-a'], ['batch'], ['team-b', 'prod']];

function event(i: number, subAccountId: string): UsageEvent {
  const at = new Date(NOW - 30 * DAY + ((i * 7_919_003) % (30 * DAY))).toISOString();
  const status = i % 50 === 0 ? 'error' : i % 77 === 0 ? 'blocked' : 'ok';
  return {
    v: 1,
    requestId: `req_bench_${subAccountId}_${i}`,
    attempt: 0,
    workspaceId: WS,
    subAccountId,
    keyId: null,
    tags: TAGS[i % TAGS.length]!,
    model: MODELS[i % MODELS.length]!,
    requestedModel: i % 13 === 0 ? MODELS[0] : null,
    servedModel: null,
    provider: 'openai',
    byok: false,
    inputTokens: 500 + (i % 997),
    outputTokens: 50 + (i % 301),
    cachedInputTokens: i % 3 === 0 ? 256 : 0,
    cacheWriteTokens: i % 7 === 0 ? 128 : 0,
    providerCostMicros: 900 + (i % 500),
    billedCostMicros: 1_000 + (i % 500),
    estimated: false,
    status,
    errorClass: status === 'ok' ? null : 'x',
    httpStatus: status === 'ok' ? 200 : status === 'error' ? 502 : 402,
    latencyMs: 300,
    ttftMs: null,
    retries: 0,
    stream: false,
    startedAt: at,
    finishedAt: at,
    reservationMicros: 0,
  };
}

/** The report as it was before the rollups served it (the four raw scans). */
async function fromRecords(db: PrismaClient, subAccountId: string, range: Range) {
  const where = Prisma.sql`"workspaceId" = ${WS} AND "subAccountId" = ${subAccountId} AND "startedAt" >= ${range.from} AND "startedAt" < ${range.to}`;
  const [summary] = await db.$queryRaw<unknown[]>`
    SELECT count(*)::int AS requests, coalesce(sum("billedCostMicros"),0)::bigint AS "costMicros",
      coalesce(sum("inputTokens"),0)::bigint AS "inputTokens", coalesce(sum("outputTokens"),0)::bigint AS "outputTokens",
      coalesce(sum("cachedInputTokens"),0)::bigint AS "cachedInputTokens", coalesce(sum("cacheWriteTokens"),0)::bigint AS "cacheWriteTokens",
      count(*) FILTER (WHERE status = 'error')::int AS errors, count(*) FILTER (WHERE status = 'blocked')::int AS blocked
    FROM "UsageRecord" WHERE ${where}`;
  const byModel = await db.$queryRaw<unknown[]>`
    SELECT model, count(*)::int AS requests,
      count(*) FILTER (WHERE "requestedModel" IS NOT NULL AND "requestedModel" <> model)::int AS downgraded, coalesce(sum("billedCostMicros"),0)::bigint AS "costMicros",
      coalesce(sum("inputTokens"),0)::bigint AS "inputTokens", coalesce(sum("outputTokens"),0)::bigint AS "outputTokens",
      coalesce(sum("cachedInputTokens"),0)::bigint AS "cachedInputTokens", coalesce(sum("cacheWriteTokens"),0)::bigint AS "cacheWriteTokens"
    FROM "UsageRecord" WHERE ${where} GROUP BY model ORDER BY model`;
  const byDay = await db.$queryRaw<unknown[]>`
    SELECT to_char(date_trunc('day', "startedAt"), 'YYYY-MM-DD') AS day, count(*)::int AS requests,
      coalesce(sum("billedCostMicros"),0)::bigint AS "costMicros", 0::bigint AS "inputTokens", 0::bigint AS "outputTokens",
      0::bigint AS "cachedInputTokens", 0::bigint AS "cacheWriteTokens"
    FROM "UsageRecord" WHERE ${where} GROUP BY 1 ORDER BY 1`;
  const byTag = await db.$queryRaw<unknown[]>`
    SELECT t.tag, count(*)::int AS requests, coalesce(sum("billedCostMicros"),0)::bigint AS "costMicros",
      coalesce(sum("inputTokens"),0)::bigint AS "inputTokens", coalesce(sum("outputTokens"),0)::bigint AS "outputTokens",
      coalesce(sum("cachedInputTokens"),0)::bigint AS "cachedInputTokens", coalesce(sum("cacheWriteTokens"),0)::bigint AS "cacheWriteTokens"
    FROM "UsageRecord", unnest(tags) AS t(tag) WHERE ${where} GROUP BY t.tag ORDER BY t.tag`;
  return { range, summary, byModel, byDay, byTag };
}

async function time(fn: () => Promise<unknown>): Promise<{ median: number; worst: number }> {
  await fn();
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { median: ms[Math.floor(RUNS / 2)]!, worst: ms[RUNS - 1]! };
}

const json = (v: unknown) =>
  JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));

const pg = await createPgDatabase();
const db = await openDatabase({ databaseUrl: pg.url });
try {
  const prisma = db.prisma;
  const t0 = performance.now();
  const events = Array.from({ length: N }, (_, i) => event(i, 'sa_busy'));
  for (let i = 0; i < OTHERS; i++) events.push(event(i, `sa_other_${i % 50}`));
  for (let i = 0; i < events.length; i += 10_000) {
    await writeUsage(prisma, events.slice(i, i + 10_000));
  }
  console.log(`ingest: ${N} + ${OTHERS} records in ${Math.round(performance.now() - t0)} ms`);
  await prisma.$executeRawUnsafe('ANALYZE');

  const deps = { prisma, secretKey: Buffer.alloc(32) } as ServiceDeps;
  const ranges: [string, Range][] = [
    ['30d window', { from: new Date(NOW - 30 * DAY), to: new Date(NOW) }],
    ['November', { from: new Date(Date.UTC(2026, 10, 1)), to: new Date(Date.UTC(2026, 11, 1)) }],
    ['7d window', { from: new Date(NOW - 7 * DAY), to: new Date(NOW) }],
    ['24h window', { from: new Date(NOW - DAY), to: new Date(NOW) }],
  ];
  for (const [name, range] of ranges) {
    const before = await fromRecords(prisma, 'sa_busy', range);
    const after = await usageReport(deps, WS, 'sa_busy', range);
    if (json(before) !== json(after)) throw new Error(`${name}: the reports differ`);
    const records = await time(() => fromRecords(prisma, 'sa_busy', range));
    const rollups = await time(() => usageReport(deps, WS, 'sa_busy', range));
    const requests = (before.summary as { requests: number }).requests;
    console.log(
      `${name.padEnd(11)} ${String(requests).padStart(7)} requests: records ${records.median.toFixed(1)} ms (worst ${records.worst.toFixed(1)}), rollups ${rollups.median.toFixed(1)} ms (worst ${rollups.worst.toFixed(1)})`,
    );
  }
} finally {
  await db.close();
  await pg.drop();
}
