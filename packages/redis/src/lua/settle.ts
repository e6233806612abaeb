import { COMMON_LUA } from './common.ts';

/**
 * Settles one request, exactly once per request id (the `settled` marker is set NX first; a second
 * settle changes nothing and answers 0). Releases the reservation if it is still held — if it already
 * expired, the purge released it, so it is not released twice — and always adds the actual cost to
 * `spent`: the books never lose a settled cost. Frees the concurrency slot. TPM: the admission charged
 * its estimate to its minute window; in that same window the estimate is replaced by the actual
 * tokens, in a later window the actual tokens are charged to the current one.
 *
 * KEYS: 1 settled marker, 2 concurrency zset, 3 request-tokens record, 4 current tpm window,
 *       then 3 per counter: state hash, expiry zset, amount hash, then the workspace's counters-epoch
 *       marker (optional; a counter created while it is absent is flagged for the rebuild).
 * ARGV: 1 requestId, 2 actualMicros, 3 actualTokens, 4 current minuteIndex, 5 settledTtlMs,
 *       6 counter count, then 1 per counter: keyTtlMs, then nowMs (caller's clock: housekeeping stamp).
 * Reply: 1 settled now, 0 already settled.
 */
export const SETTLE_LUA = `${COMMON_LUA}
local id, actual, tokens = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local minuteIdx, n = tonumber(ARGV[4]), tonumber(ARGV[6])
local now = tonumber(ARGV[7 + n])
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[5]) then return 0 end

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
for i = 1, n do
  local k = 4 + (i - 1) * 3
  local s = readState(KEYS[k + 1], now)
  local freed = release(KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], id, false)
  local f = {'spent', int(num(s.spent) + actual)}
  if freed ~= 0 then f[#f + 1] = 'reserved'; f[#f + 1] = int(s.reserved - freed) end
  if not sealed and not s.exists then f[#f + 1] = 'p'; f[#f + 1] = '1' end
  if s.due then f[#f + 1] = 't'; f[#f + 1] = int(now) end
  redis.call('HSET', KEYS[k + 1], unpack(f))
  if s.due then redis.call('PEXPIRE', KEYS[k + 1], int(tonumber(ARGV[6 + i]) + HK_SLACK_MS)) end
end
return 1
`;
