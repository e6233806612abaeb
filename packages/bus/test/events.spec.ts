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

/** Pub/sub delivery is asynchronous: wait for it, bounded, instead of a fixed sleep. */
async function heardWithin(done: () => boolean, ms = 5_000): Promise<void> {
  for (const until = Date.now() + ms; !done() && Date.now() < until; ) {
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.each(impls)('%s event bus', (_name, make) => {
  it('fans every message out to every subscriber, in order, until unsubscribed', async () => {
    const [one, two] = make();
    const heard: string[][] = [[], []];
    const unsubA = await one.subscribe((m) => heard[0]!.push(m));
    const unsubB = await two.subscribe((m) => heard[1]!.push(m));
    await one.publish('a');
    await two.publish('b');
    await heardWithin(() => heard[0]!.length >= 2 && heard[1]!.length >= 2);
    expect(heard).toEqual([
      ['a', 'b'],
      ['a', 'b'],
    ]);
    await unsubA();
    await one.publish('c');
    await heardWithin(() => heard[1]!.length >= 3);
    expect(heard[0]).toEqual(['a', 'b']);
    expect(heard[1]).toEqual(['a', 'b', 'c']);
    await unsubB();
    await one.close();
    await two.close();
  });
});
