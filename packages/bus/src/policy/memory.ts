import { EventEmitter } from 'node:events';
import type { LoggedDelta, PolicyAnnounce, PolicyBus } from '../types.ts';
import {
  DELTA_READ_LIMIT,
  decodeAnnouncement,
  encodeAnnouncement,
  MAX_LOGGED_DELTAS,
} from './wire.ts';

/**
 * In-process policy bus. Announcements go through the same encoding as on Redis and are delivered
 * asynchronously (next macrotask), as a network hop would: a publisher never runs subscriber code
 * inside its own call, and a subscriber that throws cannot break the publisher. The base and the
 * delta log follow the same rules as on Redis.
 */
export function createMemoryPolicyBus(): PolicyBus {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  let latest: string | null = null;
  let latestRevision = -1;
  let latestHistory = '';
  /** Oldest first, one per revision. */
  let log: LoggedDelta[] = [];

  return {
    async publish(revision, payload) {
      const message = encodeAnnouncement(revision, payload);
      setImmediate(() => emitter.emit('announce', message));
    },
    async setLatest(payload, revision, history = '') {
      if (history !== latestHistory) {
        log = [];
        latestHistory = history;
      } else if (latestRevision > revision) return false;
      latest = payload;
      latestRevision = revision;
      log = log.filter((d) => d.revision > revision);
      return true;
    },
    async getLatest() {
      return latest;
    },
    async latestRevision() {
      return latest === null ? null : latestRevision;
    },
    async latestHistory() {
      return latest === null ? null : latestHistory;
    },
    async latestLength() {
      return latest?.length ?? 0;
    },
    async appendDelta(revision, payload) {
      if (latest !== null && revision <= latestRevision) return true;
      log = log.filter((d) => d.revision !== revision);
      const at = log.findIndex((d) => d.revision > revision);
      log.splice(at < 0 ? log.length : at, 0, { revision, payload });
      if (log.length > MAX_LOGGED_DELTAS) log = log.slice(log.length - MAX_LOGGED_DELTAS);
      return latest !== null;
    },
    async readDeltas(after, limit = DELTA_READ_LIMIT) {
      return log.filter((d) => d.revision > after).slice(0, limit);
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
