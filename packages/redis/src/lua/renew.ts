import { COMMON_LUA } from './common.ts';

/**
 * Keeps a long request's reservation alive: moves its expiry to `expiresAt` on every counter that
 * still holds it (and its concurrency slot), so a stream or a slow answer that outlives the
 * reservation TTL does not lose the budget it reserved. A reservation already purged is not
 * re-created (its budget may be someone else's now; the settle bounds the charge instead).
 *
 * KEYS: 1 concurrency zset, then 2 per counter: expiry zset, amount hash.
 * ARGV: 1 requestId, 2 expiresAt (ms), 3 concurrency key lifetime (ms).
 * Reply: how many counters still held the reservation.
 */
export const RENEW_LUA = `${COMMON_LUA}
local id, expiresAt = ARGV[1], ARGV[2]
local held = 0
for i = 2, #KEYS, 2 do
  if redis.call('HEXISTS', KEYS[i + 1], id) == 1 then
    redis.call('ZADD', KEYS[i], 'XX', expiresAt, id)
    held = held + 1
  end
end
if redis.call('ZADD', KEYS[1], 'XX', 'CH', expiresAt, id) == 1 then extend(KEYS[1], tonumber(ARGV[3])) end
return held
`;
