import { readFileSync } from 'node:fs';
import { Prisma, type PrismaClient } from '@tollgate/db';
import { openTestDatabase, pgAvailable, type TestDatabase, usageEvent } from '@tollgate/testkit';
import type { UsageEvent } from '@tollgate/usage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeUsage } from '../ingest/write-usage.ts';
import type { ServiceDeps } from './context.ts';
import { type Range, usageReport } from './usage.ts';

const KINDS = ['pglite', 'postgres'] as const;
const DAY = 86_400_000;
const FIRST_DAY = Date.UTC(2026, 9, 28); // 2026-10-28: the records span two month ends
const DAYS = 37;
const MODELS = ['openai/gpt-5.4-mini', 'openai/gpt-5.4', 'anthropic/claude-sonnet-4.6'];
const TAG_SETS = [[], ['a'], ['a', 'b'], ['c', 'a'], ['b'], ['a', 'a'], ['x:y']];
const STATUSES = ['ok', 'ok', 'ok', 'ok', 'ok', 'error', 'blocked'] as const;
const ACCOUNTS = ['sa_r1', 'sa_r1', 'sa_r1', 'sa_r2', null];
const MIGRATION = new URL(
  '../../../../prisma/migrations/20261208011430_subaccount_report_rollups/migration.sql',
  import.meta.url,
);

/** Usage over 37 days: several sub-accounts (and none), models, tags (none, several, one twice),
 * outcomes, downgrades, cache reads and writes, costs whose sums pass 2^53; and records at the
 * very edges of days, one of them stored on the next day (its time rounds up to milliseconds). */
function history(n: number): UsageEvent[] {
  const events = Array.from({ length: n }, (_, i) => {
    const at = new Date(FIRST_DAY + (i % DAYS) * DAY + ((i * 104_729_037) % DAY)).toISOString();
    const status = STATUSES[i % STATUSES.length]!;
    const model = MODELS[i % MODELS.length]!;
    const other = MODELS[(i + 1) % MODELS.length]!;
    const requested = [undefined, null, model, other, '', other][i % 6];
    return usageEvent({
      requestId: `req_report_${i}`,
      workspaceId: 'ws_r',
      subAccountId: ACCOUNTS[i % ACCOUNTS.length]!,
      tags: TAG_SETS[i % TAG_SETS.length]!,
      model,
      requestedModel: requested,
      status,
      errorClass: status === 'ok' ? null : 'x',
      inputTokens: 1_000 + (i % 97),
      outputTokens: 10 + (i % 13),
      cachedInputTokens: (i % 11) * 3,
      cacheWriteTokens: (i % 5) * 7,
      providerCostMicros: 3_000_000_000_000 + i,
      billedCostMicros: 9_000_000_000_000 + i,
      startedAt: at,
      finishedAt: at,
    });
  });
  const edge = (n: number, startedAt: string) =>
    usageEvent({
      requestId: `req_report_edge_${n}`,
      workspaceId: 'ws_r',
      subAccountId: 'sa_r1',
      tags: ['edge'],
      requestedModel: MODELS[0],
      billedCostMicros: 1_000 * n,
      cacheWriteTokens: n,
      startedAt,
      finishedAt: startedAt,
    });
  events.push(
    edge(1, '2026-11-10T00:00:00.000Z'),
    edge(2, '2026-11-10T23:59:59.999Z'),
    edge(3, '2026-11-14T23:59:59.9996Z'), // stored as 2026-11-15T00:00:00.000
    edge(4, '2026-11-30T23:59:59.999Z'),
    edge(5, '2026-12-01T00:00:00.000Z'),
  );
  return events;
}

/** The report as it was computed before the rollups served it: four scans of the records. The
 * oracle — the rollup-based report must answer exactly this. */
async function rawReport(
  db: PrismaClient,
  workspaceId: string,
  subAccountId: string,
  range: Range,
) {
  const where = Prisma.sql`"workspaceId" = ${workspaceId} AND "subAccountId" = ${subAccountId} AND "startedAt" >= ${range.from} AND "startedAt" < ${range.to}`;
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

const at = (from: string, to: string): Range => ({ from: new Date(from), to: new Date(to) });
/** Whole months, partial edge days, no whole day, one day, edges on the very first and last
 * millisecond of a day, the day a rounded-up record lands on, everything, nothing. */
const RANGES: Range[] = [
  at('2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z'),
  at('2026-10-01T00:00:00Z', '2026-12-01T00:00:00Z'),
  at('2026-11-03T05:30:00.123Z', '2026-11-20T17:45:00Z'),
  at('2026-11-05T00:00:00Z', '2026-11-25T13:00:00Z'),
  at('2026-11-05T13:00:00Z', '2026-11-25T00:00:00Z'),
  at('2026-11-10T02:00:00Z', '2026-11-10T20:00:00Z'),
  at('2026-11-10T20:00:00Z', '2026-11-11T04:00:00Z'),
  at('2026-11-10T00:00:00Z', '2026-11-11T00:00:00Z'),
  at('2026-11-10T00:00:00.001Z', '2026-11-10T23:59:59.999Z'),
  at('2026-11-09T23:59:59.999Z', '2026-11-12T00:00:00.001Z'),
  at('2026-11-14T00:00:00Z', '2026-11-15T00:00:00Z'),
  at('2026-11-15T00:00:00Z', '2026-11-16T00:00:00Z'),
  at('2026-11-30T12:00:00Z', '2026-12-01T12:00:00Z'),
  at('1970-01-01T00:00:00Z', '2027-01-01T00:00:00Z'),
  at('2026-11-10T12:00:00Z', '2026-11-10T12:00:00Z'),
  at('2025-01-01T00:00:00Z', '2025-02-01T00:00:00Z'),
];

/** The backfill statements of the migration that added the sub-account report's rollup figures. */
function backfillStatements(): string[] {
  const sql = readFileSync(MIGRATION, 'utf8');
  return sql
    .slice(sql.indexOf('-- Backfill'))
    .split(/;\s*$/m)
    .map((s) => s.replace(/^--.*$/gm, '').trim())
    .filter((s) => s.length > 0);
}

describe.each(KINDS)('the sub-account usage report from rollups on %s', (kind) => {
  const skip = kind === 'postgres' && !pgAvailable();
  let t: TestDatabase;
  let deps: ServiceDeps;
  const events = history(3_000);
  beforeAll(async () => {
    if (skip) return;
    t = await openTestDatabase(kind);
    deps = { prisma: t.db.prisma, secretKey: Buffer.alloc(32) };
    // Through the real ingest: deliveries of several chunks, replays inside and across them.
    expect(
      await writeUsage(t.db.prisma, [...events.slice(0, 2_200), ...events.slice(0, 300)]),
    ).toHaveLength(2_200);
    expect(await writeUsage(t.db.prisma, events.slice(1_500))).toHaveLength(events.length - 2_200);
  }, 180_000);
  afterAll(async () => {
    await t?.cleanup();
  });

  it.skipIf(skip)('answers exactly what the records hold, for every range and field', async () => {
    const p = t.db.prisma;
    let seen = 0;
    for (const sa of ['sa_r1', 'sa_r2']) {
      for (const range of RANGES) {
        const expected = await rawReport(p, 'ws_r', sa, range);
        const label = `${sa} ${range.from.toISOString()} – ${range.to.toISOString()}`;
        expect(await usageReport(deps, 'ws_r', sa, range), label).toEqual(expected);
        seen += (expected.summary as { requests: number }).requests;
      }
      // The same sub-account asked about in another workspace: nothing.
      const other = await usageReport(deps, 'ws_other', sa, RANGES[1]!);
      expect(other).toEqual(await rawReport(p, 'ws_other', sa, RANGES[1]!));
      expect(other.summary.requests).toBe(0);
    }
    // Not vacuous: every figure the rollups now carry was exercised.
    expect(seen).toBeGreaterThan(5_000);
    const month = await usageReport(deps, 'ws_r', 'sa_r1', RANGES[0]!);
    expect(month.summary.errors).toBeGreaterThan(0);
    expect(month.summary.blocked).toBeGreaterThan(0);
    expect(month.summary.cacheWriteTokens).toBeGreaterThan(0n);
    expect(month.summary.costMicros).toBeGreaterThan(2n ** 53n);
    expect(month.byModel.every((m) => m.downgraded > 0)).toBe(true);
    expect(month.byTag.find((x) => x.tag === 'a')?.requests).toBeGreaterThan(
      month.byTag.find((x) => x.tag === 'b')!.requests,
    );
  });

  it.skipIf(skip)(
    "the migration's backfill gives the rollups the ingest keeps (an upgraded installation answers the same)",
    async () => {
      const p = t.db.prisma;
      const accountRollups = () =>
        p.usageRollupDaily.findMany({
          orderBy: [{ subAccountId: 'asc' }, { model: 'asc' }, { day: 'asc' }],
        });
      const tagRollups = () =>
        p.subAccountTagRollupDaily.findMany({
          orderBy: [{ subAccountId: 'asc' }, { tag: 'asc' }, { day: 'asc' }],
        });
      const ingested = [await accountRollups(), await tagRollups()] as const;
      expect(ingested[0].some((r) => r.downgraded > 0 && r.cacheWriteTokens > 0n)).toBe(true);
      expect(ingested[1].length).toBeGreaterThan(100);
      // As an older version left them: no new figures, no sub-account × tag rows.
      await p.usageRollupDaily.updateMany({ data: { downgraded: 0, cacheWriteTokens: 0 } });
      await p.subAccountTagRollupDaily.deleteMany();
      const statements = backfillStatements();
      expect(statements).toHaveLength(2);
      for (const sql of statements) await p.$executeRawUnsafe(sql);
      expect(await accountRollups()).toEqual(ingested[0]);
      expect(await tagRollups()).toEqual(ingested[1]);
    },
  );

  it.skipIf(skip)('whole days are read from the rollups, not the records', async () => {
    const p = t.db.prisma;
    const range = RANGES[2]!;
    const before = await usageReport(deps, 'ws_r', 'sa_r1', range);
    // The records of a whole day inside the range gone (the rollups keep it): the report is as
    // before, where the records alone now lack that day.
    const gone = await p.usageRecord.deleteMany({
      where: {
        subAccountId: 'sa_r1',
        startedAt: { gte: new Date('2026-11-12T00:00:00Z'), lt: new Date('2026-11-13T00:00:00Z') },
      },
    });
    expect(gone.count).toBeGreaterThan(0);
    expect(await usageReport(deps, 'ws_r', 'sa_r1', range)).toEqual(before);
    const raw = await rawReport(p, 'ws_r', 'sa_r1', range);
    expect((raw.summary as { requests: number }).requests).toBe(
      before.summary.requests - gone.count,
    );
  });
});
