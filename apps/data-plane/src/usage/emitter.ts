import type { UsageStream } from '@tollgate/bus';
import { USAGE_EVENT_VERSION, type UsageEvent } from '@tollgate/usage';
import type { Logger } from '../log.ts';

/**
 * Batches usage events into stream entries (one entry = one encoded batch). A batch goes out when
 * it reaches `maxBatch` events or `flushMs` after its first event; a failed append keeps the events
 * and retries on the next flush (ingestion is idempotent by request id, so a duplicate is harmless).
 * `stop()` flushes what is left.
 *
 * Each event is encoded when added (the batch is the joined encodings): an event that cannot be
 * encoded (a BigInt somewhere) is dropped alone instead of failing its batch's append on every
 * retry. Its money and counts must be non-negative safe integers — the fields a bug would corrupt
 * silently; the full schema is checked by the ingestor, event by event (`decodeUsageBatch`), which
 * rejects a bad event without costing the rest of its batch.
 */
export interface UsageEmitter {
  add(event: UsageEvent): void;
  flush(): Promise<void>;
  /** Sends what is left, retrying for up to `deadlineMs` (default 5 000) while the stream is
   * unreachable; answers how many events could not be delivered (logged as lost). */
  stop(deadlineMs?: number): Promise<number>;
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

const INTEGER_FIELDS = [
  'attempt',
  'inputTokens',
  'outputTokens',
  'cachedInputTokens',
  'cacheWriteTokens',
  'providerCostMicros',
  'billedCostMicros',
  'latencyMs',
  'retries',
  'reservationMicros',
] as const;

/** The usage batch as `encodeUsageBatch` writes it, from events already encoded one by one. */
const batchText = (events: string[]) =>
  `{"v":${USAGE_EVENT_VERSION},"events":[${events.join(',')}]}`;

/** The event's JSON, or why it cannot be sent. */
function encode(event: UsageEvent): { text: string } | { problem: string } {
  for (const field of INTEGER_FIELDS) {
    const v = event[field];
    if (!Number.isSafeInteger(v) || v < 0) return { problem: `${field}: ${String(v)}` };
  }
  try {
    return { text: JSON.stringify(event) };
  } catch (err) {
    return { problem: String(err) };
  }
}

export function createUsageEmitter(opts: UsageEmitterOptions): UsageEmitter {
  const maxBatch = opts.maxBatch ?? 100;
  const flushMs = opts.flushMs ?? 50;
  const maxBuffered = opts.maxBuffered ?? 100_000;
  let buffer: string[] = [];
  let timer: NodeJS.Timeout | null = null;
  let flushing: Promise<void> | null = null;

  async function sendAll(): Promise<void> {
    while (buffer.length > 0) {
      const batch = buffer.slice(0, maxBatch);
      try {
        await opts.usage.append([batchText(batch)]);
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
      const encoded = encode(event);
      if ('problem' in encoded) {
        opts.log.error('usage event cannot be sent', {
          requestId: event.requestId,
          problem: encoded.problem,
        });
        opts.metrics?.usageDropped.inc();
        return;
      }
      buffer.push(encoded.text);
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
    async stop(deadlineMs = 5_000) {
      // A failed append re-arms the timer: retried here every 250 ms until the deadline, then
      // given up on (the events are logged as lost and counted for the caller).
      const until = Date.now() + deadlineMs;
      for (;;) {
        await flush();
        while (flushing !== null) await flushing;
        if (buffer.length === 0 || Date.now() >= until) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      if (timer !== null) clearTimeout(timer);
      timer = null;
      if (buffer.length > 0) {
        opts.log.error('usage events not delivered at stop', { events: buffer.length });
        opts.metrics?.usageDropped.inc(buffer.length);
      }
      return buffer.length;
    },
  };
}
