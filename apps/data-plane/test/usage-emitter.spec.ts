import { createMemoryUsageStream, type UsageEntry } from '@tollgate/bus';
import { usageEvent } from '@tollgate/testkit';
import { decodeUsageBatch, type UsageEvent } from '@tollgate/usage';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../src/log.ts';
import { createUsageEmitter } from '../src/usage/emitter.ts';

/** A logger that keeps what it was told (the emitter's only other output). */
function keepingLogger() {
  const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const at =
    (level: string) =>
    (msg: string, fields?: Record<string, unknown>): void => {
      lines.push({ level, msg, fields });
    };
  const log: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  };
  return { log, lines };
}

/** Every entry the stream holds, read through a consumer group as the control plane reads it. */
async function readAll(stream: ReturnType<typeof createMemoryUsageStream>, expected: number) {
  const got: UsageEntry[] = [];
  const consumer = stream.createConsumer({
    group: 'g',
    consumer: 'c',
    blockMs: 20,
    handler: async (entries) => {
      got.push(...entries);
    },
  });
  await consumer.start();
  for (let i = 0; i < 100 && got.length < expected; i++)
    await new Promise((r) => setTimeout(r, 10));
  await consumer.stop();
  return got;
}

describe('usage emitter', () => {
  it('writes batches the ingestor decodes to the very events, one entry per batch', async () => {
    const stream = createMemoryUsageStream();
    const { log } = keepingLogger();
    const emitter = createUsageEmitter({ usage: stream, log, maxBatch: 3, flushMs: 10_000 });
    const events = Array.from({ length: 5 }, (_, i) =>
      usageEvent({ workspaceId: 'ws_1', billedCostMicros: 100 + i, tags: ['team:a'] }),
    );
    for (const e of events) emitter.add(e);
    await emitter.stop();
    const entries = await readAll(stream, 2);
    const decoded = entries.map((e) => decodeUsageBatch(e.data));
    expect(decoded).toEqual([
      { events: events.slice(0, 3), rejected: [] },
      { events: events.slice(3), rejected: [] },
    ]);
  });

  it('drops an event it cannot send alone; the rest of its batch arrives', async () => {
    const stream = createMemoryUsageStream();
    const { log, lines } = keepingLogger();
    let dropped = 0;
    const counter = {
      inc: (by = 1) => {
        dropped += by;
      },
    };
    const emitter = createUsageEmitter({
      usage: stream,
      log,
      metrics: { usageQueued: { inc() {} }, usageFlushed: { inc() {} }, usageDropped: counter },
    });
    const good = [
      usageEvent({ workspaceId: 'ws_1', billedCostMicros: 7 }),
      usageEvent({ workspaceId: 'ws_1', billedCostMicros: 9 }),
    ];
    const bad: UsageEvent[] = [
      usageEvent({ workspaceId: 'ws_1', billedCostMicros: 1.5 }),
      usageEvent({ workspaceId: 'ws_1', providerCostMicros: Number.NaN }),
      usageEvent({ workspaceId: 'ws_1', inputTokens: -1 }),
      // A BigInt cannot be JSON-encoded: it would fail every append of its batch.
      { ...usageEvent({ workspaceId: 'ws_1' }), servedModel: 10n as unknown as string },
    ];
    emitter.add(good[0]!);
    for (const e of bad) emitter.add(e);
    emitter.add(good[1]!);
    await emitter.stop();
    const entries = await readAll(stream, 1);
    expect(entries).toHaveLength(1);
    const decoded = decodeUsageBatch(entries[0]!.data);
    expect(decoded.rejected).toEqual([]);
    expect(decoded.events.map((e) => e.requestId)).toEqual(good.map((e) => e.requestId));
    expect(dropped).toBe(4);
    const errors = lines.filter((l) => l.level === 'error');
    expect(errors.map((l) => l.fields?.requestId)).toEqual(bad.map((e) => e.requestId));
    expect(String(errors[0]!.fields?.problem)).toContain('billedCostMicros');
  });
});
