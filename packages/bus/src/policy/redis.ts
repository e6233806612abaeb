import { createKeys } from '@tollgate/redis';
import type { Redis } from 'ioredis';
import type { PolicyAnnounce, PolicyBus } from '../types.ts';
import { decodeAnnouncement, encodeAnnouncement } from './wire.ts';

export interface RedisPolicyBusOptions {
  client: Redis;
  prefix: string;
  /** close() quits the client only when the bus owns it. */
  ownsClient?: boolean;
}

/**
 * Latest snapshot in one key; announcements on one pub/sub channel. Each subscription has its own
 * connection (a subscribed connection can run nothing else); ioredis re-subscribes after a reconnect,
 * and what was published meanwhile is lost — so a reconnect is announced as (-1, null), and receivers
 * also detect gaps from revision numbers (SPEC §10).
 */
export function createRedisPolicyBus(opts: RedisPolicyBusOptions): PolicyBus {
  const { client } = opts;
  const keys = createKeys(opts.prefix);
  const channel = keys.policyChannel();
  const subscribers = new Set<Redis>();

  async function subscribe(onAnnounce: PolicyAnnounce) {
    // Named so operators (and tests) can tell the subscriber connections apart in CLIENT LIST.
    const sub = client.duplicate({ connectionName: `tg:${opts.prefix}:policy-sub` });
    sub.on('message', (ch: string, message: string) => {
      if (ch !== channel) return;
      const { revision, payload } = decodeAnnouncement(message);
      try {
        onAnnounce(revision, payload);
      } catch {
        // A failing subscriber must not break the connection's reply parsing.
      }
    });
    // A subscriber connection must not die on a transient error event (ioredis reconnects).
    sub.on('error', () => {});
    // After a reconnect, announcements made while away are lost: tell the receiver to re-read.
    let connectedBefore = false;
    sub.on('ready', () => {
      if (connectedBefore) onAnnounce(-1, null);
      connectedBefore = true;
    });
    await sub.subscribe(channel);
    connectedBefore = true;
    subscribers.add(sub);
    return async () => {
      if (!subscribers.delete(sub)) return;
      await sub.quit().catch(() => sub.disconnect());
    };
  }

  return {
    async publish(revision, payload) {
      await client.publish(channel, encodeAnnouncement(revision, payload));
    },
    async setLatest(payload) {
      await client.set(keys.policyLatest(), payload);
    },
    async getLatest() {
      return client.get(keys.policyLatest());
    },
    subscribe,
    async close() {
      await Promise.all([...subscribers].map((s) => s.quit().catch(() => s.disconnect())));
      subscribers.clear();
      if (opts.ownsClient) await client.quit();
    },
  };
}
