import type { UsageConsumer, UsageEntry, UsageStream } from '@tollgate/bus';
import type { PrismaClient } from '@tollgate/db';
import { decodeUsageBatch, UsageDecodeError, type UsageEvent } from '@tollgate/usage';
import { storable, writeUsage } from './write-usage.ts';

/**
 * The usage ingestor (DESIGN: data plane → stream → books). Reads the usage stream with a consumer
 * group; each delivery of entries is decoded and written in one `writeUsage` transaction, and only
 * after it commits are the entries acknowledged (the bus acks when the handler resolves). A failed
 * write throws, so the same entries are delivered again — harmless, because `writeUsage` is
 * idempotent by request id. An entry that is not a usage batch at all can never succeed: it is
 * logged and acknowledged (skipped), so it cannot block the stream forever.
 */
export interface UsageIngestOptions {
  prisma: PrismaClient;
  usage: UsageStream;
  group: string;
  consumer: string;
  /** How long one read waits for new entries. Default 1 000 ms. */
  blockMs?: number;
  batchSize?: number;
  /** Called with the events that were new (not replays), after they committed. */
  onIngested?: (events: UsageEvent[]) => void;
  /** Awaited after the write commits, with every event of the delivery (replays included, so work
   * lost to a crash between the write and this call is redone on redelivery: it must be
   * idempotent). If it throws, the entries are not acknowledged and come again. */
  afterWrite?: (events: UsageEvent[]) => Promise<void>;
  onError?: (err: unknown) => void;
}

export interface UsageIngest {
  /** Stops reading; the batch in flight is written and acknowledged first. */
  stop(): Promise<void>;
}

export function decodeEntries(
  entries: readonly UsageEntry[],
  onError?: (err: unknown) => void,
): UsageEvent[] {
  const events: UsageEvent[] = [];
  for (const entry of entries) {
    try {
      const batch = decodeUsageBatch(entry.data);
      events.push(...batch.events);
      if (batch.rejected.length > 0) {
        onError?.(
          new Error(
            `usage entry ${entry.id}: ${batch.rejected.length} events refused: ${batch.rejected[0]?.error}`,
          ),
        );
      }
    } catch (err) {
      if (!(err instanceof UsageDecodeError)) throw err;
      onError?.(new Error(`usage entry ${entry.id} skipped: ${err.message}`));
    }
  }
  return events;
}

export async function startUsageIngest(opts: UsageIngestOptions): Promise<UsageIngest> {
  const consumer: UsageConsumer = opts.usage.createConsumer({
    group: opts.group,
    consumer: opts.consumer,
    blockMs: opts.blockMs ?? 1_000,
    batchSize: opts.batchSize,
    onError: opts.onError,
    handler: async (entries) => {
      // Storable before anything reads them: the records, and the events and webhooks after them.
      const events = decodeEntries(entries, opts.onError).map(storable);
      if (events.length === 0) return;
      const fresh = await writeUsage(opts.prisma, events);
      await opts.afterWrite?.(events);
      if (fresh.length > 0) opts.onIngested?.(fresh);
    },
  });
  await consumer.start();
  return { stop: () => consumer.stop() };
}
