import { createKeys } from '@tollgate/redis';
import type { Redis } from 'ioredis';
import type { EventBus } from '../types.ts';

export interface RedisEventBusOptions {
  client: Redis;
  prefix: string;
}

/**
 * Events on one Redis pub/sub channel. Each subscription holds its own connection (a subscribed
 * connection can run nothing else); ioredis re-subscribes after a reconnect, and messages published
 * meanwhile are lost — acceptable for live views, whose durable copy is in PostgreSQL.
 */
export function createRedisEventBus(opts: RedisEventBusOptions): EventBus {
  const { client } = opts;
  const channel = createKeys(opts.prefix).eventsChannel();
  const subscribers = new Set<Redis>();
  return {
    async publish(message) {
      await client.publish(channel, message);
    },
    async subscribe(onMessage) {
      const sub = client.duplicate({ connectionName: `tg:${opts.prefix}:events-sub` });
      sub.on('message', (ch: string, message: string) => {
        if (ch !== channel) return;
        try {
          onMessage(message);
        } catch {
          // A failing subscriber must not break the connection's reply parsing.
        }
      });
      sub.on('error', () => {});
      await sub.subscribe(channel);
      subscribers.add(sub);
      return async () => {
        if (!subscribers.delete(sub)) return;
        await sub.quit().catch(() => sub.disconnect());
      };
    },
    async close() {
      await Promise.all([...subscribers].map((s) => s.quit().catch(() => s.disconnect())));
      subscribers.clear();
    },
  };
}
