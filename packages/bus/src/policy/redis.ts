import { createKeys } from '@tollgate/redis';
import type { Redis } from 'ioredis';
import type { PolicyAnnounce, PolicyBus } from '../types.ts';
import {
  DELTA_READ_LIMIT,
  decodeAnnouncement,
  encodeAnnouncement,
  MAX_LOGGED_DELTAS,
} from './wire.ts';

/** KEYS: base, its revision, the delta log, its history. ARGV: snapshot, revision, history. Stores
 * the base unless a newer one of the same history is stored, and drops the deltas it covers (all of
 * them, for another history), in one step: a reader never sees a base whose successors were
 * dropped, or deltas dropped before their base is there. */
const SET_LATEST_LUA = `
local stored = tonumber(redis.call('GET', KEYS[2]) or '-1')
if (redis.call('GET', KEYS[4]) or '') ~= ARGV[3] then
  redis.call('DEL', KEYS[3])
elseif stored > tonumber(ARGV[2]) then
  return 0
end
redis.call('SET', KEYS[4], ARGV[3])
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[2])
return 1
`;

/** KEYS: the base's revision, the delta log. ARGV: revision, delta, most kept. A delta the base
 * already covers is not logged; one at the same revision is replaced; the oldest go past the bound.
 * Answers 0 when no base is stored. */
const APPEND_DELTA_LUA = `
local stored = redis.call('GET', KEYS[1])
local base = tonumber(stored or '-1')
if base >= tonumber(ARGV[1]) then return 1 end
redis.call('ZREMRANGEBYSCORE', KEYS[2], ARGV[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
if excess > 0 then redis.call('ZREMRANGEBYRANK', KEYS[2], 0, excess - 1) end
if stored then return 1 end
return 0
`;

export interface RedisPolicyBusOptions {
  client: Redis;
  prefix: string;
  /** close() quits the client only when the bus owns it. */
  ownsClient?: boolean;
}

/**
 * Latest snapshot in one key, its revision in another, the deltas since it in a sorted set scored by
 * revision; announcements on one pub/sub channel. Each subscription has its own
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
    async setLatest(payload, revision, history = '') {
      const stored = await client.eval(
        SET_LATEST_LUA,
        4,
        keys.policyLatest(),
        keys.policyLatestRevision(),
        keys.policyDeltas(),
        keys.policyHistory(),
        payload,
        String(revision),
        history,
      );
      return stored === 1;
    },
    async getLatest() {
      return client.get(keys.policyLatest());
    },
    async latestRevision() {
      const text = await client.get(keys.policyLatestRevision());
      const revision = text === null ? Number.NaN : Number(text);
      return Number.isSafeInteger(revision) ? revision : null;
    },
    async latestHistory() {
      return client.get(keys.policyHistory());
    },
    async latestLength() {
      // STRLEN counts bytes; the snapshot is JSON of ASCII ids, hashes and numbers (and names
      // would only make it longer): close enough to size compaction by.
      return client.strlen(keys.policyLatest());
    },
    async appendDelta(revision, payload) {
      const based = await client.eval(
        APPEND_DELTA_LUA,
        2,
        keys.policyLatestRevision(),
        keys.policyDeltas(),
        String(revision),
        payload,
        String(MAX_LOGGED_DELTAS),
      );
      return based === 1;
    },
    async readDeltas(after, limit = DELTA_READ_LIMIT) {
      const flat = await client.zrangebyscore(
        keys.policyDeltas(),
        `(${after}`,
        '+inf',
        'WITHSCORES',
        'LIMIT',
        0,
        limit,
      );
      const out = [];
      for (let i = 0; i < flat.length; i += 2) {
        out.push({ revision: Number(flat[i + 1]), payload: flat[i] as string });
      }
      return out;
    },
    subscribe,
    async close() {
      await Promise.all([...subscribers].map((s) => s.quit().catch(() => s.disconnect())));
      subscribers.clear();
      if (opts.ownsClient) await client.quit();
    },
  };
}
