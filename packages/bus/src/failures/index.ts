import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { FailureCounter } from '../types.ts';

/**
 * In-process fixed windows: a window opens at a key's first failure and lasts `windowMs`. At most
 * `maxKeys` windows are kept; the oldest go first.
 */
export function createMemoryFailureCounter(maxKeys = 10_000): FailureCounter {
  const windows = new Map<string, { count: number; until: number }>();
  const live = (key: string, now: number) => {
    const w = windows.get(key);
    if (w !== undefined && w.until <= now) {
      windows.delete(key);
      return undefined;
    }
    return w;
  };
  return {
    async hit(key, windowMs) {
      const now = Date.now();
      const w = live(key, now);
      if (w !== undefined) return ++w.count;
      windows.set(key, { count: 1, until: now + windowMs });
      while (windows.size > maxKeys) {
        const oldest = windows.keys().next().value;
        if (oldest === undefined) break;
        windows.delete(oldest);
      }
      return 1;
    },
    async peek(key) {
      const now = Date.now();
      const w = live(key, now);
      return w === undefined ? { count: 0, ttlMs: 0 } : { count: w.count, ttlMs: w.until - now };
    },
  };
}

/** The same windows in Redis, shared by every control plane: SET NX PX opens one, INCR counts
 * (keeping its expiry). Keys are hashed: what is counted (addresses, key prefixes) is not stored. */
export function createRedisFailureCounter(client: Redis, prefix: string): FailureCounter {
  const keyOf = (key: string) =>
    `tg:${prefix}:authfail:${createHash('sha256').update(key).digest('hex').slice(0, 32)}`;
  return {
    async hit(key, windowMs) {
      const k = keyOf(key);
      const replies = await client.multi().set(k, '0', 'PX', windowMs, 'NX').incr(k).exec();
      const failed = replies?.find(([err]) => err);
      if (failed || replies === null) throw failed?.[0] ?? new Error('transaction aborted');
      return Number(replies[1]?.[1] ?? 0);
    },
    async peek(key) {
      const k = keyOf(key);
      const replies = await client.multi().get(k).pttl(k).exec();
      const failed = replies?.find(([err]) => err);
      if (failed || replies === null) throw failed?.[0] ?? new Error('transaction aborted');
      const count = Number(replies[0]?.[1] ?? 0);
      const ttlMs = Number(replies[1]?.[1] ?? 0);
      return count > 0 && ttlMs > 0 ? { count, ttlMs } : { count: 0, ttlMs: 0 };
    },
  };
}
