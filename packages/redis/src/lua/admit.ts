import { COMMON_LUA } from './common.ts';

/**
 * One admission, atomic (one script = one critical section on the Redis server, across every replica):
 * rate limits first, then every spend counter, then — only if everything passed — the reservations.
 * A refusal reserves nothing anywhere (all-or-nothing). Re-admitting a request id first releases its
 * earlier reservation and concurrency slot, so a retried admit never holds budget twice.
 *
 * KEYS: 1 concurrency zset, 2 rpm window, 3 rpd window, 4 tpm window, 5 request-tokens record,
 *       then 3 per counter: state hash, expiry zset, amount hash, then the workspace's counters-epoch
 *       marker (optional).
 * ARGV: 1 requestId, 2 nowMs, 3 reservationTtlMs, 4 rpm, 5 rpd, 6 tpm, 7 maxConcurrent (-1 = none),
 *       8 estimatedTokens, 9 worstCaseMicros, 10 minMicros, 11 minuteIndex, 12 minuteEndMs,
 *       13 dayEndMs, 14 purgeLimit, 15 counter count, then 2 per counter: capMicros (-1 = none), keyTtlMs,
 *       then requireSeed ('1': refuse capped or rate-limited requests while the epoch marker is absent).
 * Reply: {1, reserved, clamped, snapshot×6} | {2, limitCode, retryAfterMs, snapshot×6}
 *        | {3, counterIndex (1-based), cap, spent, reserved, snapshot×6} | {4} (capped or rate-limited, counters not rebuilt yet:
 *        nothing was changed). Snapshot nulls are -1.
 */
export const ADMIT_LUA = `${COMMON_LUA}
local id, now, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local rpm, rpd, tpm, maxConc = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local est, worst, minMicros = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local minuteIdx, minuteEnd, dayEnd = ARGV[11], tonumber(ARGV[12]), tonumber(ARGV[13])
local purgeLimit, n = tonumber(ARGV[14]), tonumber(ARGV[15])
local WINDOW_KEY_MS, DAY_KEY_MS, CONCURRENCY_RETRY_MS = 120000, 172800000, 1000

-- Counters lost and not rebuilt from the books yet: a capped or rate-limited request cannot be
-- judged (its counter or window would start from zero, and what it counted would be overwritten by
-- the rebuild), so it is refused before anything changes. Unlimited ones go on.
local sealed = isSealed(KEYS[6 + 3 * n])
if not sealed and ARGV[16 + 2 * n] == '1' then
  if rpm >= 0 or rpd >= 0 or tpm >= 0 or maxConc >= 0 then return {4} end
  for i = 1, n do
    if tonumber(ARGV[14 + i * 2]) >= 0 then return {4} end
  end
end

local rpmUsed = rpm >= 0 and num(redis.call('GET', KEYS[2])) or 0
local rpdUsed = rpd >= 0 and num(redis.call('GET', KEYS[3])) or 0
local tpmUsed = tpm >= 0 and num(redis.call('GET', KEYS[4])) or 0

-- The requests trio reports whichever of rpm/rpd has fewer requests left (the binding one).
local function snapshot(addReq, addTok)
  local lr, rr, tr = -1, -1, -1
  if rpm >= 0 then lr, rr, tr = rpm, math.max(0, rpm - rpmUsed - addReq), minuteEnd - now end
  if rpd >= 0 then
    local rem = math.max(0, rpd - rpdUsed - addReq)
    if lr < 0 or rem < rr then lr, rr, tr = rpd, rem, dayEnd - now end
  end
  local lt, rt, tt = -1, -1, -1
  if tpm >= 0 then lt, rt, tt = tpm, math.max(0, tpm - tpmUsed - addTok), minuteEnd - now end
  return {lr, rr, tr, lt, rt, tt}
end

local function refuseRate(code, retry)
  local s = snapshot(0, 0)
  return {2, code, math.max(1, retry), s[1], s[2], s[3], s[4], s[5], s[6]}
end

-- Replace semantics for a retried request id: its earlier slot and reservations go first.
redis.call('ZREM', KEYS[1], id)
for i = 1, n do
  local k = 5 + (i - 1) * 3
  release(KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], id, true)
end

if rpm >= 0 and rpmUsed + 1 > rpm then return refuseRate(1, minuteEnd - now) end
if rpd >= 0 and rpdUsed + 1 > rpd then return refuseRate(2, dayEnd - now) end
if tpm >= 0 and tpmUsed + est > tpm then return refuseRate(3, minuteEnd - now) end
local concNew = false
if maxConc >= 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', int(now))
  local c = redis.call('ZCARD', KEYS[1])
  if c >= maxConc then return refuseRate(4, CONCURRENCY_RETRY_MS) end
  concNew = c == 0
end

-- Counter states in one HMGET each. Expired reservations are purged when the counter's housekeeping
-- is due, and always before a capped counter's remaining could decide anything (below the worst case):
-- a purge only lowers "reserved", so when remaining >= worst case without it, x = worst case either way.
local S, caps = {}, {}
for i = 1, n do
  local k = 5 + (i - 1) * 3
  local s = readState(KEYS[k + 1], now)
  local cap = tonumber(ARGV[14 + i * 2])
  caps[i] = cap
  if s.due or (cap >= 0 and cap - num(s.spent) - math.max(0, s.reserved) < worst) then
    s.reserved = s.reserved - purge(KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], now, purgeLimit)
  end
  S[i] = s
end

-- x = min(worst case, smallest remaining over capped counters); the first counter whose remaining
-- is below the minimum useful cost is the one named in the refusal.
local x = worst
for i = 1, n do
  local cap = caps[i]
  if cap >= 0 then
    local spent, reserved = num(S[i].spent), math.max(0, S[i].reserved)
    local rem = cap - spent - reserved
    if rem < minMicros then
      local s = snapshot(0, 0)
      return {3, i, cap, spent, reserved, s[1], s[2], s[3], s[4], s[5], s[6]}
    end
    if rem < x then x = rem end
  end
end

local expiresAt = int(now + ttl)
local xs = int(x)
for i = 1, n do
  local k = 5 + (i - 1) * 3
  local keyTtl = int(tonumber(ARGV[15 + i * 2]) + HK_SLACK_MS)
  local s = S[i]
  redis.call('ZADD', KEYS[k + 2], expiresAt, id)
  redis.call('HSET', KEYS[k + 3], id, xs)
  local f = {'reserved', int(s.reserved + x)}
  if not sealed and not s.exists then f[#f + 1] = 'p'; f[#f + 1] = '1' end
  if s.due then f[#f + 1] = 't'; f[#f + 1] = int(now) end
  redis.call('HSET', KEYS[k + 1], unpack(f))
  if s.due then redis.call('PEXPIRE', KEYS[k + 1], keyTtl) end
  -- Nothing was reserved: expiry and amount were empty (so absent) and were just created.
  if s.due or s.reserved <= 0 then
    redis.call('PEXPIRE', KEYS[k + 2], keyTtl)
    redis.call('PEXPIRE', KEYS[k + 3], keyTtl)
  end
end
-- Window keys get their TTL when created (they are only written within their window and soon after).
if rpm >= 0 and redis.call('INCR', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], WINDOW_KEY_MS) end
if rpd >= 0 and redis.call('INCR', KEYS[3]) == 1 then redis.call('PEXPIRE', KEYS[3], DAY_KEY_MS) end
if tpm >= 0 then
  if redis.call('INCRBY', KEYS[4], int(est)) == est then redis.call('PEXPIRE', KEYS[4], WINDOW_KEY_MS) end
  redis.call('SET', KEYS[5], minuteIdx .. ':' .. int(est), 'PX', int(math.max(ttl, 60000) + 60000))
end
if maxConc >= 0 then
  redis.call('ZADD', KEYS[1], expiresAt, id)
  extendLoose(KEYS[1], ttl + 60000, concNew)
end
local s = snapshot(1, est)
return {1, x, x < worst and 1 or 0, s[1], s[2], s[3], s[4], s[5], s[6]}
`;
