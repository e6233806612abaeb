import type { UsageConsumerOptions, UsageEntry, UsageStream } from '../types.ts';
import { type ConsumerSource, runConsumer } from './consumer-loop.ts';

/**
 * In-process usage stream with Redis Streams' group semantics: a group starts at the beginning, each
 * entry goes to one consumer of a group, stays pending until acked, and can be claimed by another
 * consumer once idle long enough. Entries trimmed past `maxLen` while pending are dropped, as the
 * Redis source does with entries it finds deleted.
 */
interface Pending {
  consumer: string;
  deliveredAt: number;
  entry: UsageEntry;
}

interface Group {
  /** Sequence number of the last entry handed out with '>' semantics. */
  lastSeq: number;
  /** In id order (Map keeps insertion order; ids are handed out in order, claims re-insert). */
  pending: Map<string, Pending>;
}

const seqOf = (id: string) => Number(id.slice(0, id.indexOf('-')));

export function createMemoryUsageStream(opts: { maxLen?: number } = {}): UsageStream {
  const maxLen = opts.maxLen ?? 100_000;
  const log: UsageEntry[] = [];
  let seq = 0;
  const groups = new Map<string, Group>();
  const waiters = new Set<(stop?: boolean) => void>();
  const consumers = new Set<ReturnType<typeof runConsumer>>();
  const appendedAt = new WeakMap<UsageEntry, number>();

  function trim() {
    const excess = log.length - maxLen;
    if (excess <= 0) return;
    const dropped = log.splice(0, excess);
    for (const g of groups.values()) for (const e of dropped) g.pending.delete(e.id);
  }

  /** Index of the first entry after `lastSeq` (the log is sorted by sequence). */
  function firstAfter(lastSeq: number) {
    let lo = 0;
    let hi = log.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (seqOf(log[mid]!.id) <= lastSeq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  function take(g: Group, consumer: string, count: number): UsageEntry[] {
    const start = firstAfter(g.lastSeq);
    const out = log.slice(start, start + count);
    for (const e of out) g.pending.set(e.id, { consumer, deliveredAt: Date.now(), entry: e });
    if (out.length > 0) g.lastSeq = seqOf(out[out.length - 1]!.id);
    return out;
  }

  function source(o: UsageConsumerOptions): ConsumerSource {
    const group = () => {
      const found = groups.get(o.group);
      if (found) return found;
      const created: Group = { lastSeq: 0, pending: new Map() };
      groups.set(o.group, created);
      return created;
    };
    let interruptRead: (() => void) | null = null;
    const mine = (count: number, pick: (p: Pending) => boolean) => {
      const out: UsageEntry[] = [];
      for (const p of group().pending.values()) {
        if (out.length >= count) break;
        if (!pick(p)) continue;
        p.consumer = o.consumer;
        p.deliveredAt = Date.now();
        out.push(p.entry);
      }
      return out;
    };
    return {
      init: async () => void group(),
      ownPending: async (count) => mine(count, (p) => p.consumer === o.consumer),
      claim: async (count, idleMs) =>
        mine(count, (p) => p.consumer !== o.consumer && Date.now() - p.deliveredAt >= idleMs),
      async readNew(count, blockMs) {
        const now = take(group(), o.consumer, count);
        if (now.length > 0) return now;
        const interrupted = await new Promise<boolean>((resolve) => {
          const done = (stop = false) => {
            clearTimeout(timer);
            waiters.delete(done);
            interruptRead = null;
            resolve(stop);
          };
          const timer = setTimeout(done, blockMs);
          waiters.add(done);
          interruptRead = () => done(true);
        });
        // Like a read aborted by a closed connection: an interrupted read hands out nothing.
        return interrupted ? [] : take(group(), o.consumer, count);
      },
      async ack(ids) {
        for (const id of ids) group().pending.delete(id);
      },
      interrupt: () => interruptRead?.(),
      close: async () => {},
    };
  }

  return {
    async append(batch) {
      const t = Date.now();
      for (const data of batch) {
        const entry = { id: `${++seq}-0`, data };
        appendedAt.set(entry, t);
        log.push(entry);
      }
      trim();
      // Copy first: each waiter removes itself while being called.
      for (const w of [...waiters]) w(false);
    },
    createConsumer(o) {
      const consumer = runConsumer(source(o), o);
      consumers.add(consumer);
      return consumer;
    },
    async lag(groupName) {
      const g = groups.get(groupName);
      const start = g === undefined ? 0 : firstAfter(g.lastSeq);
      let oldest: number | null = null;
      for (const p of g?.pending.values() ?? []) {
        const t = appendedAt.get(p.entry);
        if (t !== undefined && (oldest === null || t < oldest)) oldest = t;
      }
      const next = log[start];
      const t = next === undefined ? undefined : appendedAt.get(next);
      if (t !== undefined && (oldest === null || t < oldest)) oldest = t;
      return {
        pending: g?.pending.size ?? 0,
        undelivered: log.length - start,
        oldestUnackedMs: oldest === null ? null : Math.max(0, Date.now() - oldest),
      };
    },
    async close() {
      await Promise.all([...consumers].map((c) => c.stop()));
      consumers.clear();
    },
  };
}
