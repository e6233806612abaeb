import { EventEmitter } from 'node:events';
import type { PolicyAnnounce, PolicyBus } from '../types.ts';
import { decodeAnnouncement, encodeAnnouncement } from './wire.ts';

/**
 * In-process policy bus. Announcements go through the same encoding as on Redis and are delivered
 * asynchronously (next macrotask), as a network hop would: a publisher never runs subscriber code
 * inside its own call, and a subscriber that throws cannot break the publisher.
 */
export function createMemoryPolicyBus(): PolicyBus {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  let latest: string | null = null;

  return {
    async publish(revision, payload) {
      const message = encodeAnnouncement(revision, payload);
      setImmediate(() => emitter.emit('announce', message));
    },
    async setLatest(payload) {
      latest = payload;
    },
    async getLatest() {
      return latest;
    },
    async subscribe(onAnnounce: PolicyAnnounce) {
      const listener = (message: string) => {
        const { revision, payload } = decodeAnnouncement(message);
        try {
          onAnnounce(revision, payload);
        } catch {
          // Same as on Redis: a failing subscriber only affects itself.
        }
      };
      emitter.on('announce', listener);
      return async () => {
        emitter.off('announce', listener);
      };
    },
    async close() {
      emitter.removeAllListeners();
    },
  };
}
