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
});
