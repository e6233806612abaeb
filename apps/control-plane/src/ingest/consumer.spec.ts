import { createBus } from '@tollgate/bus';
import { openTestDatabase, type TestDatabase } from '@tollgate/testkit';
import { encodeUsageBatch, type UsageEvent } from '@tollgate/usage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUsageIngest } from './consumer.ts';

function event(requestId: string, billed: number): UsageEvent {
  const at = new Date().toISOString();
  return {
    v: 1,
    requestId,
    attempt: 0,
    workspaceId: 'ws_1',
    subAccountId: 'sa_1',
    keyId: 'key_1',
    tags: ['team'],
    model: 'openai/gpt-5.4-mini',
    servedModel: null,
    provider: 'openai',
    byok: false,
    inputTokens: 10,
    outputTokens: 5,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    providerCostMicros: billed,
    billedCostMicros: billed,
    estimated: false,
    status: 'ok',
    errorClass: null,
    httpStatus: 200,
    latencyMs: 3,
    ttftMs: null,
    retries: 0,
    stream: false,
    startedAt: at,
    finishedAt: at,
    reservationMicros: billed,
  };
}

describe('usage ingest', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase('pglite');
    await t.db.prisma.workspace.create({ data: { id: 'ws_1', name: 'one' } });
    await t.db.prisma.subAccount.create({ data: { id: 'sa_1', workspaceId: 'ws_1', name: 'c' } });
  }, 120_000);
  afterAll(async () => {
    await t?.cleanup();
  });

  it('writes each request once (replays and garbage entries included) and acks', async () => {
    const bus = createBus({ prefix: 'ingest-test' });
    const ingested: string[] = [];
    const errors: unknown[] = [];
    const ingest = await startUsageIngest({
      prisma: t.db.prisma,
      usage: bus.usage,
      group: 'cp',
      consumer: 'c1',
      blockMs: 20,
      onIngested: (events) => ingested.push(...events.map((e) => e.requestId)),
      onError: (e) => errors.push(e),
    });
    await bus.usage.append([encodeUsageBatch([event('req_a', 100), event('req_b', 50)])]);
    await bus.usage.append(['not a batch', encodeUsageBatch([event('req_a', 100)])]);
    const deadline = Date.now() + 5_000;
    while (ingested.length < 2 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    await ingest.stop();
    expect(ingested.sort()).toEqual(['req_a', 'req_b']);
    expect(errors.length).toBe(1);
    const rows = await t.db.prisma.usageRecord.findMany();
    expect(rows.length).toBe(2);
    const rollup = await t.db.prisma.usageRollupDaily.findMany();
    expect(rollup[0]!.billedCostMicros).toBe(150n);
    await bus.close();
  });

  it('a NUL in a record (PostgreSQL cannot store it) does not stall ingestion: stored as U+FFFD', async () => {
    const bus = createBus({ prefix: 'ingest-nul' });
    const seen: UsageEvent[] = [];
    const ingest = await startUsageIngest({
      prisma: t.db.prisma,
      usage: bus.usage,
      group: 'cp',
      consumer: 'c1',
      blockMs: 20,
      // What runs after the write (events, webhooks) sees the same storable events.
      afterWrite: async (events) => {
        await t.db.prisma.budgetEvent.createMany({
          data: events.map((e) => ({
            id: `evt_${e.requestId}`,
            workspaceId: e.workspaceId,
            type: 'request_failed',
            data: { model: e.model },
          })),
        });
        seen.push(...events);
      },
    });
    const bad = { ...event('req_nul', 7), model: 'openai/gpt\u0000x', servedModel: 'a\u0000b' };
    await bus.usage.append([encodeUsageBatch([bad, event('req_after_nul', 3)])]);
    const deadline = Date.now() + 5_000;
    while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await ingest.stop();
    const rows = await t.db.prisma.usageRecord.findMany({
      where: { requestId: { in: ['req_nul', 'req_after_nul'] } },
      orderBy: { requestId: 'asc' },
    });
    expect(rows.map((r) => [r.requestId, r.model, r.servedModel])).toEqual([
      ['req_after_nul', 'openai/gpt-5.4-mini', null],
      ['req_nul', 'openai/gpt\uFFFDx', 'a\uFFFDb'],
    ]);
    const stored = await t.db.prisma.budgetEvent.findUnique({ where: { id: 'evt_req_nul' } });
    expect(stored?.data).toEqual({ model: 'openai/gpt\uFFFDx' });
    await bus.close();
  });
});
