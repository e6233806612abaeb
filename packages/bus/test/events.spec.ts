import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createMemoryEventBus } from '../src/events/memory.ts';
import { createRedisEventBus } from '../src/events/redis.ts';
import type { EventBus } from '../src/types.ts';
import { REDIS_URL, uniquePrefix } from './harness.ts';

const clients: Redis[] = [];
afterAll(async () => {
  await Promise.all(clients.map((c) => c.quit()));
});

const impls: [string, () => [EventBus, EventBus]][] = [
  [
    'in-process',
    () => {
      const bus = createMemoryEventBus();
      return [bus, bus];
    },
  ],
];
if (process.env.TG_TIER_REDIS !== '0') {
  impls.push([
    'redis',
    () => {
      const prefix = uniquePrefix('events');
      const [a, b] = [new Redis(REDIS_URL), new Redis(REDIS_URL)];
      clients.push(a, b);
      return [
        createRedisEventBus({ client: a, prefix }),
        createRedisEventBus({ client: b, prefix }),
      ];
    },
  ]);
}

describe.each(impls)('%s event bus', (_name, make) => {
  it('fans every message out to every subscriber, in order, until unsubscribed', async () => {
    const [one, two] = make();
    const heard: string[][] = [[], []];
    const unsubA = await one.subscribe((m) => heard[0]!.push(m));
    const unsubB = await two.subscribe((m) => heard[1]!.push(m));
    await one.publish('a');
    await two.publish('b');
    await new Promise((r) => setTimeout(r, 100));
    expect(heard).toEqual([
      ['a', 'b'],
      ['a', 'b'],
    ]);
    await unsubA();
    await one.publish('c');
    await new Promise((r) => setTimeout(r, 100));
    expect(heard[0]).toEqual(['a', 'b']);
    expect(heard[1]).toEqual(['a', 'b', 'c']);
    await unsubB();
    await one.close();
    await two.close();
  });
});
