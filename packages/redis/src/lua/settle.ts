import { COMMON_LUA } from './common.ts';

/**
 * Settles one request, exactly once per request id (the `settled` marker is set NX first; a second
 * settle changes nothing and answers 0). Releases the reservation if it is still held — if it already
 * expired, the purge released it, so it is not released twice — and always adds the actual cost to
 * `spent`: the books never lose a settled cost. Frees the concurrency slot. TPM: the admission charged
 * its estimate to its minute window; in that same window the estimate is replaced by the actual
 * tokens, in a later window the actual tokens are charged to the current one.
 *
 *
 * The cap guarantee when the reservation is gone: a request normally settles within what it reserved
 * (the caller caps the cost at it). When a capped counter no longer holds this request's reservation
 * — it outlived the reservation TTL and an admission purged it, or Redis lost it with the counters —
 * or holds less of it than the charge (put back smaller after a loss, reinstate.ts) —
 * the budget it held may have been reserved by others since, so the charge is lowered to what is
 * left under that cap (never below 0): the settled spend never exceeds the cap, at the price of
 * under-billing that request (the caller records the charge actually settled). Before a rebuild
 * (workspace not sealed) the counter may hold only part of the period's spend: what is left then
 * looks larger than it is, so the bound can only be weaker, never wrong.
 *
 * KEYS: 1 settled marker, 2 concurrency zset, 3 request-tokens record, 4 current tpm window,
 *       then 3 per counter: state hash, expiry zset, amount hash, then the workspace's counters-epoch
 *       marker (optional; a counter created while it is absent is flagged for the rebuild).
 * ARGV: 1 requestId, 2 actualMicros, 3 actualTokens, 4 current minuteIndex, 5 settledTtlMs,
 *       6 counter count, then 1 per counter: keyTtlMs, then nowMs (caller's clock: housekeeping stamp),
 *       then 1 per counter: capMicros (-1 = none), then purgeLimit.
 * Reply: the micro-USD added to spent (>= 0) when settled now, -1 when already settled.
 */
export const SETTLE_LUA = `${COMMON_LUA}
local id, actual, tokens = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local minuteIdx, n = tonumber(ARGV[4]), tonumber(ARGV[6])
local now = tonumber(ARGV[7 + n])
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[5]) then return -1 end

redis.call('ZREM', KEYS[2], id)
local rec = redis.call('GET', KEYS[3])
if rec then
  local sep = string.find(rec, ':', 1, true)
  local idx, est = tonumber(string.sub(rec, 1, sep - 1)), tonumber(string.sub(rec, sep + 1))
  local delta = tokens
  if idx == minuteIdx then delta = tokens - est end
  -- A negative correction needs the window that holds the estimate; if it is gone, skip it.
  -- A window key gets its TTL when created (only written within its minute and soon after).
  if delta > 0 then
    if redis.call('INCRBY', KEYS[4], int(delta)) == delta then
      redis.call('PEXPIRE', KEYS[4], 120000)
    end
  elseif delta < 0 and redis.call('EXISTS', KEYS[4]) == 1 then
    redis.call('INCRBY', KEYS[4], int(delta))
  end
  redis.call('DEL', KEYS[3])
end

local sealed = isSealed(KEYS[5 + 3 * n])
local purgeLimit = tonumber(ARGV[8 + 2 * n])
local S, F = {}, {}
local charge = actual
for i = 1, n do
  local k = 4 + (i - 1) * 3
  S[i] = readState(KEYS[k + 1], now)
  F[i] = release(KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], id, false)
end
-- A capped counter held less than the charge (the reservation is gone, or came back smaller after
-- a loss — reinstate.ts): charge at most what is left under its cap besides others' reservations.
for i = 1, n do
  local cap = tonumber(ARGV[7 + n + i])
  if F[i] < charge and cap >= 0 then
    local k = 4 + (i - 1) * 3
    S[i].reserved = S[i].reserved - purge(KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], now, purgeLimit)
    local room = cap - num(S[i].spent) - math.max(0, S[i].reserved - F[i])
    if room < charge then charge = math.max(0, room) end
  end
end
for i = 1, n do
  local k = 4 + (i - 1) * 3
  local s, freed = S[i], F[i]
  local f = {'spent', int(num(s.spent) + charge)}
  if freed ~= 0 then f[#f + 1] = 'reserved'; f[#f + 1] = int(s.reserved - freed) end
  if not sealed and not s.exists then f[#f + 1] = 'p'; f[#f + 1] = '1' end
  if s.due then f[#f + 1] = 't'; f[#f + 1] = int(now) end
  redis.call('HSET', KEYS[k + 1], unpack(f))
  if s.due then redis.call('PEXPIRE', KEYS[k + 1], int(tonumber(ARGV[6 + i]) + HK_SLACK_MS)) end
end
return charge
`;
