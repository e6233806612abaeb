import { COMMON_LUA } from './common.ts';

/**
 * Read-only: spent and reserved per counter as of `now`, not counting reservations that already
 * expired but were not purged yet (at most `limit` of them are looked at; beyond that "reserved" is
 * overstated, never understated).
 *
 * KEYS: 3 per counter (state, expiry, amount). ARGV: 1 nowMs, 2 counter count, 3 limit.
 * Reply: {spent1, reserved1, spent2, reserved2, ...}.
 */
export const PEEK_LUA = `${COMMON_LUA}
local now, n, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
for i = 1, n do
  local k = (i - 1) * 3
  local st = redis.call('HMGET', KEYS[k + 1], 'spent', 'reserved')
  local reserved = num(st[2])
  local ids = redis.call('ZRANGEBYSCORE', KEYS[k + 2], '-inf', int(now), 'LIMIT', 0, limit)
  if #ids > 0 then
    local amts = redis.call('HMGET', KEYS[k + 3], unpack(ids))
    for j = 1, #ids do reserved = reserved - num(amts[j]) end
  end
  out[#out + 1] = num(st[1])
  out[#out + 1] = math.max(0, reserved)
end
return out
`;

/**
 * Rebuild after loss: sets `spent` only if the field is absent (HSETNX), so a counter Redis still
 * holds is never overwritten by an older figure from the books.
 * KEYS: 1 state hash. ARGV: 1 spentMicros, 2 keyTtlMs. Reply: 1 set, 0 already present.
 */
export const SEED_LUA = `${COMMON_LUA}
local set = redis.call('HSETNX', KEYS[1], 'spent', ARGV[1])
extend(KEYS[1], tonumber(ARGV[2]))
return set
`;
