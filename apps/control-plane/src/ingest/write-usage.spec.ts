import { openTestDatabase, pgAvailable, type TestDatabase, usageEvent } from '@tollgate/testkit';
import type { UsageEvent } from '@tollgate/usage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeUsage } from './write-usage.ts';

const KINDS = ['pglite', 'postgres'] as const;
const ACCOUNTS = 40;
const MODELS = ['openai/gpt-5.4-mini', 'openai/gpt-5.4', 'anthropic/claude-sonnet-4.6'];
const DAYS = ['2026-11-30', '2026-12-01'];
const TAG_SETS = [[], ['a'], ['a', 'b'], ['c']];
const STATUSES = ['ok', 'ok', 'ok', 'error', 'blocked'] as const;

/** A backlog as a control plane finds it after an outage: many sub-accounts, models, days, tags
 * and outcomes, with costs large enough that a chunk's sums pass 2^32. */
function backlog(n: number): UsageEvent[] {
  return Array.from({ length: n }, (_, i) => {
    const day = DAYS[i % DAYS.length]!;
    const at = `${day}T${String(i % 24).padStart(2, '0')}:17:05.${String(i % 1000).padStart(3, '0')}Z`;
    const status = STATUSES[i % STATUSES.length]!;
    return usageEvent({
      requestId: `req_backlog_${i}`,
      workspaceId: 'ws_w',
      subAccountId: `sa_${i % ACCOUNTS}`,
      keyId: `key_${i % ACCOUNTS}`,
      tags: TAG_SETS[i % TAG_SETS.length]!,
      model: MODELS[i % MODELS.length]!,
      status,
      errorClass: status === 'ok' ? null : 'x',
      inputTokens: 1_000 + (i % 97),
      outputTokens: 10 + (i % 13),
      cachedInputTokens: i % 7,
      cacheWriteTokens: i % 5,
      providerCostMicros: 3_000_000 + i,
      billedCostMicros: 3_300_000 + i,
      startedAt: at,
      finishedAt: at,
    });
  });
}

describe.each(KINDS)('writeUsage on %s', (kind) => {
  const skip = kind === 'postgres' && !pgAvailable();
  let t: TestDatabase;
  beforeAll(async () => {
    if (skip) return;
    t = await openTestDatabase(kind);
    await t.db.prisma.workspace.create({ data: { id: 'ws_w', name: 'w' } });
    await t.db.prisma.subAccount.createMany({
      data: Array.from({ length: ACCOUNTS }, (_, i) => ({
        id: `sa_${i}`,
        workspaceId: 'ws_w',
        name: `c${i}`,
      })),
    });
  }, 120_000);
  afterAll(async () => {
    await t?.cleanup();
  });

  it.skipIf(skip)(
    'a backlog of 12 000 events in one delivery: each request once, rollups equal to the records',
    async () => {
      const events = backlog(12_000);
      // Replays inside the delivery (a data plane re-emitting) count once.
      const delivery = [...events, ...events.slice(0, 500)];
      const fresh = await writeUsage(t.db.prisma, delivery);
      expect(fresh.length).toBe(12_000);
      expect(new Set(fresh.map((e) => e.requestId)).size).toBe(12_000);
      const p = t.db.prisma;
      expect(await p.usageRecord.count()).toBe(12_000);

      // Every rollup row equals the sum of its records, and nothing else is in the rollups.
      const accountDiff: unknown[] = await p.$queryRaw`
        WITH r AS (
          SELECT "subAccountId", model, ("startedAt")::date AS day, count(*)::int AS requests,
            count(*) FILTER (WHERE status = 'error')::int AS errors,
            count(*) FILTER (WHERE status = 'blocked')::int AS blocked,
            sum("inputTokens")::bigint AS i, sum("outputTokens")::bigint AS o,
            sum("cachedInputTokens")::bigint AS c, sum("providerCostMicros")::bigint AS pc,
            sum("billedCostMicros")::bigint AS bc
          FROM "UsageRecord" GROUP BY 1, 2, 3)
        SELECT * FROM r FULL JOIN "UsageRollupDaily" u
          ON u."subAccountId" = r."subAccountId" AND u.model = r.model AND u.day = r.day
        WHERE u.requests IS DISTINCT FROM r.requests OR u.errors IS DISTINCT FROM r.errors
          OR u.blocked IS DISTINCT FROM r.blocked OR u."inputTokens" IS DISTINCT FROM r.i
          OR u."outputTokens" IS DISTINCT FROM r.o OR u."cachedInputTokens" IS DISTINCT FROM r.c
          OR u."providerCostMicros" IS DISTINCT FROM r.pc OR u."billedCostMicros" IS DISTINCT FROM r.bc`;
      expect(accountDiff).toEqual([]);
      const tagDiff: unknown[] = await p.$queryRaw`
        WITH r AS (
          SELECT t.tag, ("startedAt")::date AS day, count(*)::int AS requests,
            sum("inputTokens")::bigint AS i, sum("outputTokens")::bigint AS o,
            sum("cachedInputTokens")::bigint AS c, sum("cacheWriteTokens")::bigint AS w,
            sum("providerCostMicros")::bigint AS pc, sum("billedCostMicros")::bigint AS bc
          FROM "UsageRecord", unnest(tags) AS t(tag) GROUP BY 1, 2)
        SELECT * FROM r FULL JOIN "TagRollupDaily" u ON u.tag = r.tag AND u.day = r.day
        WHERE u.requests IS DISTINCT FROM r.requests OR u."inputTokens" IS DISTINCT FROM r.i
          OR u."outputTokens" IS DISTINCT FROM r.o OR u."cachedInputTokens" IS DISTINCT FROM r.c
          OR u."cacheWriteTokens" IS DISTINCT FROM r.w
          OR u."providerCostMicros" IS DISTINCT FROM r.pc OR u."billedCostMicros" IS DISTINCT FROM r.bc`;
      expect(tagDiff).toEqual([]);
      const distinct = (keys: string[]) => new Set(keys).size;
      const day = (e: UsageEvent) => e.startedAt.slice(0, 10);
      expect(await p.usageRollupDaily.count()).toBe(
        distinct(events.map((e) => `${e.subAccountId} ${e.model} ${day(e)}`)),
      );
      expect(await p.tagRollupDaily.count()).toBe(
        distinct(events.flatMap((e) => e.tags.map((tag) => `${tag} ${day(e)}`))),
      );

      // The record is the event: tags in order, UTC wall time, money exact.
      const one = await p.usageRecord.findUniqueOrThrow({ where: { requestId: 'req_backlog_2' } });
      expect(one).toMatchObject({
        subAccountId: 'sa_2',
        tags: ['a', 'b'],
        model: MODELS[2],
        inputTokens: 1_002,
        providerCostMicros: 3_000_002n,
        billedCostMicros: 3_300_002n,
      });
      expect(one.startedAt.toISOString()).toBe('2026-11-30T02:17:05.002Z');

      // Delivered again (its ack was lost): nothing new, nothing changed.
      const before = await p.usageRollupDaily.aggregate({ _sum: { billedCostMicros: true } });
      expect(await writeUsage(p, events.slice(0, 3_000))).toEqual([]);
      const after = await p.usageRollupDaily.aggregate({ _sum: { billedCostMicros: true } });
      expect(after._sum.billedCostMicros).toBe(before._sum.billedCostMicros);
      expect(await p.usageRecord.count()).toBe(12_000);
    },
    180_000,
  );

  it.skipIf(skip)('a lone UTF-16 surrogate in a model name is stored as U+FFFD', async () => {
    // A client's `"model": "gpt\ud800"` is refused (no such model) and recorded as sent.
    const odd = usageEvent({
      workspaceId: 'ws_w',
      subAccountId: 'sa_1',
      status: 'blocked',
      errorClass: 'model_not_found',
      model: 'gpt\ud800x\udc00',
      servedModel: 'ok\ud83d\ude00',
    });
    expect(await writeUsage(t.db.prisma, [odd])).toHaveLength(1);
    const row = await t.db.prisma.usageRecord.findUniqueOrThrow({
      where: { requestId: odd.requestId },
    });
    expect([row.model, row.servedModel]).toEqual(['gpt\uFFFDx\uFFFD', 'ok\ud83d\ude00']);
  });

  it.skipIf(skip)(
    'counts beyond the integer columns are stored at their maximum, not stalling the delivery',
    async () => {
      const huge = usageEvent({
        workspaceId: 'ws_w',
        subAccountId: 'sa_1',
        inputTokens: 3_000_000_000,
        outputTokens: 2 ** 40,
        latencyMs: 2 ** 33,
        providerCostMicros: 5,
        billedCostMicros: 5,
        startedAt: '2026-12-02T00:00:00.000Z',
        finishedAt: '2026-12-02T00:00:00.000Z',
      });
      const after = usageEvent({ workspaceId: 'ws_w', subAccountId: 'sa_1', billedCostMicros: 1 });
      const fresh = await writeUsage(t.db.prisma, [huge, after]);
      expect(fresh.map((e) => e.requestId)).toEqual([huge.requestId, after.requestId]);
      const row = await t.db.prisma.usageRecord.findUniqueOrThrow({
        where: { requestId: huge.requestId },
      });
      expect([row.inputTokens, row.outputTokens, row.latencyMs]).toEqual([
        2_147_483_647, 2_147_483_647, 2_147_483_647,
      ]);
      const rollup = await t.db.prisma.usageRollupDaily.findFirstOrThrow({
        where: { subAccountId: 'sa_1', day: new Date('2026-12-02T00:00:00Z') },
      });
      expect(rollup.inputTokens).toBe(2_147_483_647n);
      expect(rollup.billedCostMicros).toBe(5n);
    },
  );
});
