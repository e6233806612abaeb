import type { UsageConsumer, UsageConsumerOptions, UsageEntry } from '../types.ts';

/** What one store must offer a consumer; the loop around it is shared, so both stores deliver the
 * same way. Every read assigns the entries to this consumer (they stay pending until acked). */
export interface ConsumerSource {
  init(): Promise<void>;
  /** Entries already pending for this consumer (a failed batch, or held before a restart). */
  ownPending(count: number): Promise<UsageEntry[]>;
  /** Takes over entries pending at least `idleMs` in other consumers (presumed dead). */
  claim(count: number, idleMs: number): Promise<UsageEntry[]>;
  /** New entries, waiting up to `blockMs` for some. */
  readNew(count: number, blockMs: number): Promise<UsageEntry[]>;
  ack(ids: string[]): Promise<void>;
  /** Abort a readNew in progress (stop() must not wait for blockMs). */
  interrupt(): void;
  close(): Promise<void>;
}

/**
 * At-least-once delivery: entries are acked only after the handler resolves; after a failed handler
 * (or ack) this consumer's pending entries are delivered again first, after `retryDelayMs`.
 */
export function runConsumer(source: ConsumerSource, opts: UsageConsumerOptions): UsageConsumer {
  const batch = opts.batchSize ?? 100;
  const claimIdleMs = opts.claimIdleMs ?? 30_000;
  const retryDelayMs = opts.retryDelayMs ?? 1_000;
  const onError = opts.onError ?? (() => {});
  // Looking for dead consumers' entries twice per idle period is enough to keep them under ~1.5×.
  const claimEveryMs = Math.min(claimIdleMs, 10_000) / 2;
  let running = false;
  let loop: Promise<void> | null = null;
  let reading = false;
  let ownPending = true;
  let lastClaimAt = 0;
  let wake: (() => void) | null = null;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (!running) return resolve();
      const timer = setTimeout(() => done(), ms);
      const done = () => {
        clearTimeout(timer);
        wake = null;
        resolve();
      };
      wake = done;
    });

  async function next(): Promise<UsageEntry[]> {
    if (ownPending) {
      const mine = await source.ownPending(batch);
      if (mine.length > 0) return mine;
      ownPending = false;
    }
    if (Date.now() - lastClaimAt >= claimEveryMs) {
      lastClaimAt = Date.now();
      const claimed = await source.claim(batch, claimIdleMs);
      if (claimed.length > 0) return claimed;
    }
    if (!running) return [];
    reading = true;
    try {
      return await source.readNew(batch, opts.blockMs);
    } finally {
      reading = false;
    }
  }

  async function step() {
    const entries = await next();
    if (entries.length === 0) return;
    try {
      await opts.handler(entries);
    } catch (err) {
      ownPending = true;
      onError(err);
      await sleep(retryDelayMs);
      return;
    }
    await source.ack(entries.map((e) => e.id));
  }

  async function run() {
    while (running) {
      try {
        await step();
      } catch (err) {
        if (!running) break;
        ownPending = true;
        onError(err);
        await sleep(retryDelayMs);
      }
    }
  }

  return {
    async start() {
      if (running) return;
      await source.init();
      running = true;
      ownPending = true;
      loop = run();
    },
    async stop() {
      if (!running) return;
      running = false;
      if (reading) source.interrupt();
      wake?.();
      await loop;
      loop = null;
      await source.close();
    },
  };
}
