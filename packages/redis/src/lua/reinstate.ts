import { COMMON_LUA } from './common.ts';

/**
 * Gives a request that is still running its hold on the counters: its concurrency slot, and its
 * reservation on every listed counter that does not hold it — after a loss of the counters (Redis
 * flushed, restarted empty, failed over to an empty replica), or on a counter capped since the
 * request was admitted (a workspace cap set, a tag budget created). Without it such a request is
 * invisible until it settles: others are admitted past the concurrency limit and against budget it
 * is spending, and its own settle is then lowered to what is left under the cap (under-billed).
 *
 * A request that settled meanwhile gets nothing. The slot comes back at once. The reservation, with
 * requireSeed, only once the workspace's counters hold the books again (epoch marker present):
 * before that a counter's "spent" is not the period's, so what fits could not be judged (as admit
 * refuses capped requests then); without it, judged on the counters as they are (as admit does,
 * flagging a state hash it creates for the rebuild). It is never more than fits under each capped
 * counter now — others may have been admitted meanwhile — and the settle bounds a charge above what
 * a counter held (settle.ts), so the cap guarantee does not rest on the reservation being whole.
 *
 * KEYS: 1 settled marker, 2 concurrency zset, 3 the workspace's counters-epoch marker,
 *       then 3 per counter: state hash, expiry zset, amount hash.
 * ARGV: 1 requestId, 2 nowMs, 3 expiresAt (ms), 4 amount reserved at admission, 5 slot ('1': the
 *       request holds a concurrency slot), 6 concurrency key lifetime (ms), 7 purgeLimit,
 *       8 counter count, then 2 per counter: capMicros (-1 = none), keyTtlMs, then requireSeed ('1').
 * Reply: {1, micro-USD reserved again (0: none was missing, or none fits)}; {1, -1} when the
 *        request had settled; {0, 0} when requireSeed and the counters are not rebuilt yet (only the
 *        slot came back).
 */
export const REINSTATE_LUA = `${COMMON_LUA}
local id, now, expiresAt, amount = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local purgeLimit, n = tonumber(ARGV[7]), tonumber(ARGV[8])
if redis.call('EXISTS', KEYS[1]) == 1 then return {1, -1} end
if ARGV[5] == '1' and redis.call('ZADD', KEYS[2], 'NX', expiresAt, id) == 1 then
  extend(KEYS[2], tonumber(ARGV[6]))
end
local sealed = isSealed(KEYS[3])
if not sealed and ARGV[9 + 2 * n] == '1' then return {0, 0} end

local missing, x = {}, amount
for i = 1, n do
  local k = 4 + (i - 1) * 3
  if redis.call('HEXISTS', KEYS[k + 2], id) == 0 then
    local s = readState(KEYS[k], now)
    local cap = tonumber(ARGV[7 + i * 2])
    if cap >= 0 then
      s.reserved = s.reserved - purge(KEYS[k], KEYS[k + 1], KEYS[k + 2], now, purgeLimit)
      local room = cap - num(s.spent) - math.max(0, s.reserved)
      if room < x then x = room end
    end
    missing[#missing + 1] = {k, s, i}
  end
end
if #missing == 0 or x <= 0 then return {1, 0} end

local xs = int(x)
for _, m in ipairs(missing) do
  local k, s = m[1], m[2]
  local keyTtl = tonumber(ARGV[8 + m[3] * 2]) + HK_SLACK_MS
  redis.call('ZADD', KEYS[k + 1], expiresAt, id)
  redis.call('HSET', KEYS[k + 2], id, xs)
  if not sealed and not s.exists then
    redis.call('HSET', KEYS[k], 'reserved', int(s.reserved + x), 'p', '1')
  else
    redis.call('HSET', KEYS[k], 'reserved', int(s.reserved + x))
  end
  extend(KEYS[k], keyTtl)
  extend(KEYS[k + 1], keyTtl)
  extend(KEYS[k + 2], keyTtl)
end
return {1, x}
`;
