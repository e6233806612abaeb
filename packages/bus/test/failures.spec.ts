import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createMemoryFailureCounter, createRedisFailureCounter } from '../src/failures/index.ts';
import type { FailureCounter } from '../src/types.ts';
import { deletePrefix, REDIS_URL, sleep, uniquePrefix } from './harness.ts';

const client = new Redis(REDIS_URL);
const prefix = uniquePrefix('fail');
afterAll(async () => {
  await deletePrefix(client, prefix);
  await client.quit();
});

const impls: [string, () => FailureCounter][] = [
  ['in-process', () => createMemoryFailureCounter()],
  ['redis', () => createRedisFailureCounter(client, prefix)],
];

for (const [name, make] of impls) {
  describe(`failure windows (${name})`, () => {
    it('counts per key within a window that opens at the first failure, then forgets', async () => {
      const f = make();
      expect(await f.peek('ip:a')).toEqual({ count: 0, ttlMs: 0 });
      expect(await f.hit('ip:a', 300)).toBe(1);
      expect(await f.hit('ip:a', 300)).toBe(2);
      expect(await f.hit('ip:b', 300)).toBe(1);
      const open = await f.peek('ip:a');
      expect(open.count).toBe(2);
      expect(open.ttlMs).toBeGreaterThan(0);
      expect(open.ttlMs).toBeLessThanOrEqual(300);
      await sleep(400);
      expect(await f.peek('ip:a')).toEqual({ count: 0, ttlMs: 0 });
      expect(await f.hit('ip:a', 300)).toBe(1);
    });
  });
}

describe('failure windows in Redis are shared and keep no plain key', () => {
  it('two counters on one Redis see each other; the stored key is a hash', async () => {
    const p = uniquePrefix('fail2');
    const a = createRedisFailureCounter(client, p);
    const b = createRedisFailureCounter(client, p);
    await a.hit('prefix:sk-tg-admin-ABCDEFGH', 10_000);
    expect(await b.hit('prefix:sk-tg-admin-ABCDEFGH', 10_000)).toBe(2);
    const keys = await client.keys(`tg:${p}:*`);
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toContain('ABCDEFGH');
    await client.del(...keys);
  });
});
