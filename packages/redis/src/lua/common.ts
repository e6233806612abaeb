/**
 * Lua helpers prepended to every script. What must hold for every spend counter, across all scripts:
 * `state.reserved` equals the sum of the `amount` hash, and a request id is in `expiry` exactly when it
 * is in `amount`. Purge and release always move the three together, inside one script (atomic).
 *
 * Integers are passed to Redis through `int()`: Lua numbers are doubles and Redis would format a large
 * one in exponent form, which integer commands reject. Money stays below 2^53, so doubles are exact.
 *
 * Housekeeping (key lifetimes and the purge of expired reservations) is amortised: the counter's state
 * hash carries `t`, the caller's clock (ms) at its last housekeeping. Every key of a counter trio lives
 * at least its keyTtl after its last write: housekeeping, due at most HK_MS after the previous one,
 * sets keyTtl + HK_SLACK_MS on all three (the slack covers HK_MS and clock skew between replicas).
 * A stamp further than HK_SLACK_MS in the future (a replica with a wrong clock) counts as due.
 */
export const COMMON_LUA = `
local function num(v) return tonumber(v) or 0 end
local function int(n) return string.format('%.0f', n) end
local HK_MS, HK_SLACK_MS = 1000, 60000

-- Extend-only TTL: never shortens a key that an earlier call gave a longer life.
local function extend(key, ms)
  local t = redis.call('PTTL', key)
  if t == -1 or (t >= 0 and t < ms) then redis.call('PEXPIRE', key, int(ms)) end
end

-- Extend-only TTL with headroom: sets ms + ms/8 when less than ms is left, so in steady use it costs
-- one PTTL and a PEXPIRE only every ms/8. \`new\`: the key was just created (no PTTL needed).
local function extendLoose(key, ms, new)
  if not new then
    local t = redis.call('PTTL', key)
    if t >= ms or t == -2 then return end
  end
  redis.call('PEXPIRE', key, int(ms + math.floor(ms / 8)))
end

-- Whether a counter's housekeeping is due, from its state hash's \`t\` field (false: never done).
local function hkDue(t, now)
  t = tonumber(t)
  return t == nil or now - t >= HK_MS or t - now > HK_SLACK_MS
end

-- Drops up to \`limit\` reservations expired at \`now\` (a crashed replica's); what is left over
-- is dropped by a later call. Overstating "reserved" meanwhile is safe: it only refuses earlier.
-- Answers the total released (already taken off state.reserved).
local function purge(state, expiry, amount, now, limit)
  local ids = redis.call('ZRANGEBYSCORE', expiry, '-inf', int(now), 'LIMIT', 0, limit)
  if #ids == 0 then return 0 end
  local amts = redis.call('HMGET', amount, unpack(ids))
  local total = 0
  for i = 1, #ids do total = total + num(amts[i]) end
  redis.call('HDEL', amount, unpack(ids))
  redis.call('ZREM', expiry, unpack(ids))
  if total ~= 0 then redis.call('HINCRBY', state, 'reserved', int(-total)) end
  return total
end

-- Rebuild bookkeeping (see RESTORE_LUA). \`sealed\`: the workspace's epoch marker exists, i.e. its
-- counters hold the books' figures. While it is absent (Redis lost the counters, or never had
-- them), a counter hash that admit/settle create is flagged 'p' (born after the loss), so the
-- rebuild adds the books to it instead of trusting it (admit/settle add 'p' to their HSET when
-- readState found the hash absent).
local function isSealed(epochKey)
  return epochKey == nil or redis.call('EXISTS', epochKey) == 1
end

-- Reads a counter's state hash in one call. A state hash only ever holds the fields spent,
-- reserved, p, r (with spent) and t, so it exists exactly when one of the four read is present.
local function readState(state, now)
  local r = redis.call('HMGET', state, 'spent', 'reserved', 'p', 't')
  return {
    spent = r[1], reserved = num(r[2]),
    exists = (r[1] or r[2] or r[3] or r[4]) and true or false,
    due = hkDue(r[4], now),
  }
end

-- Removes one request's reservation if it is still there (absent: already expired or released).
-- Answers the amount released (0 when none); \`adjust\` false: state.reserved is left to the caller.
local function release(state, expiry, amount, id, adjust)
  local amt = redis.call('HGET', amount, id)
  if not amt then return 0 end
  redis.call('HDEL', amount, id)
  redis.call('ZREM', expiry, id)
  if adjust then redis.call('HINCRBY', state, 'reserved', int(-num(amt))) end
  return num(amt)
end
`;
