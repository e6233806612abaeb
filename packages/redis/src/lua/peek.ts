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

/**
 * Catch-up after a policy change (a tag budget created, a budget period changed mid-period): raises
 * `spent` to the books' figure when it holds less (or none), never lowers it. Both figures count
 * only spend that really settled in the period, so the larger one never overstates it; a live
 * counter ahead of the books (usage not ingested yet) is left alone.
 * KEYS: 1 state hash. ARGV: 1 spentMicros, 2 keyTtlMs. Reply: 1 raised, 0 left alone.
 */
export const RAISE_LUA = `${COMMON_LUA}
local cur = tonumber(redis.call('HGET', KEYS[1], 'spent'))
local want = tonumber(ARGV[1])
local raised = 0
if cur == nil or cur < want then
  redis.call('HSET', KEYS[1], 'spent', ARGV[1])
  raised = 1
end
extend(KEYS[1], tonumber(ARGV[2]))
return raised
`;

/**
 * The top-up of many counters of one workspace (RAISE_LUA for each, in one script): every counter
 * is raised to its books' figure when it holds less (or none), never lowered, each with RAISE_LUA's
 * key lifetime. Only while the workspace's counters-epoch marker is present: once Redis lost the
 * counters, the rebuild (RESTORE_LUA) gives them the books — a counter this script created then
 * would carry no post-loss flag and the rebuild would leave it out. The caller sends a workspace's
 * counters in chunks (one script each bounds its run time); the marker is checked by each.
 *
 * KEYS: 1 epoch marker, then 1 per counter: state hash.
 * ARGV: 1 counter count, then 2 per counter: spentMicros, keyTtlMs.
 * Reply: {0} marker missing (nothing changed); else {1, before1, before2, ...}: per counter, what it
 * held before it was raised (0 when absent), or -1 when it was left alone.
 */
export const RAISE_MANY_LUA = `${COMMON_LUA}
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
local n = tonumber(ARGV[1])
local out = {1}
for i = 1, n do
  local st = KEYS[1 + i]
  local cur = tonumber(redis.call('HGET', st, 'spent'))
  if cur == nil or cur < tonumber(ARGV[i * 2]) then
    redis.call('HSET', st, 'spent', ARGV[i * 2])
    out[i + 1] = cur or 0
  else
    out[i + 1] = -1
  end
  extend(st, tonumber(ARGV[i * 2 + 1]))
end
return out
`;

/**
 * Rebuild of a count window (RPD, RPM, TPM) after Redis lost it: raises the count to at least the
 * books' figure, never lowers it (what was admitted since the loss is already in it).
 * KEYS: 1 window key. ARGV: 1 count, 2 key TTL ms. Reply: 1 raised, 0 left alone.
 */
export const RAISE_COUNT_LUA = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`;

/**
 * Rebuild of one workspace's counters from the books after Redis lost them (SPEC §10), applied at
 * most once per counter per loss, whatever the number of control planes doing it at once:
 * - marker present: the workspace was rebuilt already (or never lost anything): nothing changes;
 * - a counter that does not exist gets the books' figure;
 * - a counter created after the loss (flagged 'p' by admit/settle: it holds only what settled since)
 *   gets the books' figure added, once (flag 'r');
 * - any other counter survived the loss and already holds the truth: it is left alone.
 * The caller sends a workspace's counters in chunks; the last one (final = 1) sets the marker.
 *
 * KEYS: 1 epoch marker, then 1 per counter: state hash.
 * ARGV: 1 epoch value, 2 final (1/0), 3 counter count, then 2 per counter: spentMicros, keyTtlMs.
 * Reply: 1 applied, 0 marker already present.
 */
export const RESTORE_LUA = `${COMMON_LUA}
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local n = tonumber(ARGV[3])
for i = 1, n do
  local st = KEYS[1 + i]
  local fresh = redis.call('EXISTS', st) == 0
  if fresh or (redis.call('HEXISTS', st, 'p') == 1 and redis.call('HEXISTS', st, 'r') == 0) then
    redis.call('HINCRBY', st, 'spent', ARGV[2 + i * 2])
    redis.call('HSET', st, 'r', '1')
    extend(st, tonumber(ARGV[3 + i * 2]))
  end
end
if ARGV[2] == '1' then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
`;
