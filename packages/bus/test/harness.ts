import { randomBytes } from 'node:crypto';
import { createKeys } from '@tollgate/redis';
import { Redis } from 'ioredis';
import { createMemoryLimiter } from '../src/limiter/memory.ts';
import { createRedisLimiter } from '../src/limiter/redis.ts';
import { createMemoryPolicyBus } from '../src/policy/memory.ts';
import { createRedisPolicyBus } from '../src/policy/redis.ts';
import type { Limiter, PolicyBus, UsageStream } from '../src/types.ts';
import { createMemoryUsageStream } from '../src/usage/memory.ts';
import { createRedisUsageStream } from '../src/usage/redis.ts';

/**
 * One harness per test: a fresh namespace (Redis: a unique key prefix, deleted afterwards; Redis is
 * shared with other test runs, so nothing here ever flushes a database).
 */
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface Harness {
  /** Two replicas: two Redis connections (two data planes), or the one in-process limiter twice. */
  replicas: [Limiter, Limiter];
  policy: PolicyBus;
  usage: UsageStream;
  close(): Promise<void>;
}

export interface Impl {
  name: 'in-process' | 'redis';
  make(): Promise<Harness>;
}

export function uniquePrefix(label = 't') {
  return `test-${label}-${process.pid}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

export async function scanKeys(client: Redis, match: string): Promise<string[]> {
  const out = new Set<string>();
  let cursor = '0';
  do {
    const [next, found] = await client.scan(cursor, 'MATCH', match, 'COUNT', 1000);
    cursor = next;
    for (const k of found) out.add(k);
  } while (cursor !== '0');
  return [...out];
}

/** Deletes exactly this prefix's keys (SCAN + UNLINK; never FLUSH*). */
export async function deletePrefix(client: Redis, prefix: string) {
  for (const match of createKeys(prefix).patterns()) {
    const found = await scanKeys(client, match);
    if (found.length > 0) await client.unlink(...found);
  }
}

export const memoryImpl: Impl = {
  name: 'in-process',
  async make() {
    const limiter = createMemoryLimiter();
    const policy = createMemoryPolicyBus();
    const usage = createMemoryUsageStream();
    return {
      replicas: [limiter, limiter],
      policy,
      usage,
      async close() {
        await Promise.all([usage.close(), policy.close(), limiter.close()]);
      },
    };
  },
};

export const redisImpl: Impl = {
  name: 'redis',
  async make() {
    const prefix = uniquePrefix();
    const a = new Redis(REDIS_URL);
    const b = new Redis(REDIS_URL);
    const policy = createRedisPolicyBus({ client: a, prefix });
    const usage = createRedisUsageStream({ client: a, prefix });
    return {
      replicas: [
        createRedisLimiter({ client: a, prefix }),
        createRedisLimiter({ client: b, prefix }),
      ],
      policy,
      usage,
      async close() {
        await Promise.all([usage.close(), policy.close()]);
        await deletePrefix(a, prefix);
        await Promise.all([a.quit(), b.quit()]);
      },
    };
  },
};

export const IMPLS: Impl[] = [memoryImpl, redisImpl];

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function waitFor(check: () => boolean, timeoutMs = 5_000, what = 'condition') {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Deterministic PRNG (mulberry32), so a failing run can be replayed with its seed. */
export function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
