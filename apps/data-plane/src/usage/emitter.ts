import type { UsageStream } from '@tollgate/bus';
import { USAGE_EVENT_VERSION, type UsageEvent, UsageEventSchema } from '@tollgate/usage';
import type { Logger } from '../log.ts';

/**
 * Batches usage events into stream entries (one entry = one encoded batch). A batch goes out when
 * it reaches `maxBatch` events or `flushMs` after its first event; a failed append keeps the events
 * and retries on the next flush (ingestion is idempotent by request id, so a duplicate is harmless).
 * `stop()` flushes what is left. Each event is validated when added, so one bad event never costs
 * the batch it would have joined.
 */
export interface UsageEmitter {
  add(event: UsageEvent): void;
  flush(): Promise<void>;
  stop(): Promise<void>;
}

export interface UsageEmitterOptions {
  usage: UsageStream;
  log: Logger;
  maxBatch?: number;
  flushMs?: number;
  /** Events kept while the stream is unreachable; the oldest are dropped (and logged) beyond it. */
  maxBuffered?: number;
  /** Counts events queued, appended and dropped. */
  metrics?: {
    usageQueued: { inc(by?: number): void };
    usageFlushed: { inc(by?: number): void };
    usageDropped: { inc(by?: number): void };
  };
}

export function createUsageEmitter(opts: UsageEmitterOptions): UsageEmitter {
  const maxBatch = opts.maxBatch ?? 100;
  const flushMs = opts.flushMs ?? 50;
  const maxBuffered = opts.maxBuffered ?? 100_000;
  let buffer: UsageEvent[] = [];
  let timer: NodeJS.Timeout | null = null;
  let flushing: Promise<void> | null = null;

  async function sendAll(): Promise<void> {
    while (buffer.length > 0) {
      const batch = buffer.slice(0, maxBatch);
      try {
        // Every buffered event is the schema's parsed copy (validated once, in add()): this is
        // what encodeUsageBatch would write, without validating each event a second time.
        await opts.usage.append([JSON.stringify({ v: USAGE_EVENT_VERSION, events: batch })]);
      } catch (err) {
        opts.log.warn('usage append failed; will retry', {
          err: String(err),
          events: batch.length,
        });
        schedule(1_000);
        return;
      }
      buffer = buffer.slice(batch.length);
      opts.metrics?.usageFlushed.inc(batch.length);
    }
  }

  function flush(): Promise<void> {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    if (flushing === null) {
      flushing = sendAll().finally(() => {
        flushing = null;
      });
    }
    return flushing;
  }

  function schedule(ms: number) {
    if (timer !== null) return;
    timer = setTimeout(() => {
      timer = null;
      void flush();
    }, ms);
    timer.unref();
  }

  return {
    add(event) {
      const checked = UsageEventSchema.safeParse(event);
      if (!checked.success) {
        opts.log.error('usage event refused by its schema', {
          requestId: event.requestId,
          issues: checked.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`),
        });
        opts.metrics?.usageDropped.inc();
        return;
      }
      buffer.push(checked.data);
      opts.metrics?.usageQueued.inc();
      if (buffer.length > maxBuffered) {
        const dropped = buffer.splice(0, buffer.length - maxBuffered);
        opts.metrics?.usageDropped.inc(dropped.length);
        opts.log.error('usage buffer full; oldest events dropped', { dropped: dropped.length });
      }
      if (buffer.length >= maxBatch) void flush();
      else schedule(flushMs);
    },
    flush,
    async stop() {
      // A failed append re-arms the timer; give up on it here (the events are logged as lost).
      await flush();
      while (flushing !== null) await flushing;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      if (buffer.length > 0) {
        opts.log.error('usage events not delivered at stop', { events: buffer.length });
      }
    },
  };
}
