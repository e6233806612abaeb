/**
 * Lua helpers prepended to every script. What must hold for every spend counter, across all scripts:
 * `state.reserved` equals the sum of the `amount` hash, and a request id is in `expiry` exactly when it
 * is in `amount`. Purge and release always move the three together, inside one script (atomic).
 *
 * Integers are passed to Redis through `int()`: Lua numbers are doubles and Redis would format a large
 * one in exponent form, which integer commands reject. Money stays below 2^53, so doubles are exact.
 */
export const COMMON_LUA = `
local function num(v) return tonumber(v) or 0 end
local function int(n) return string.format('%.0f', n) end

-- Extend-only TTL: never shortens a key that an earlier call gave a longer life.
local function extend(key, ms)
  local t = redis.call('PTTL', key)
  if t == -1 or (t >= 0 and t < ms) then redis.call('PEXPIRE', key, int(ms)) end
end

-- Drops up to \`limit\` reservations expired at \`now\` (a crashed replica's); what is left over
-- is dropped by a later call. Overstating "reserved" meanwhile is safe: it only refuses earlier.
local function purge(state, expiry, amount, now, limit)
  local ids = redis.call('ZRANGEBYSCORE', expiry, '-inf', int(now), 'LIMIT', 0, limit)
  if #ids == 0 then return end
  local amts = redis.call('HMGET', amount, unpack(ids))
  local total = 0
  for i = 1, #ids do total = total + num(amts[i]) end
  redis.call('HDEL', amount, unpack(ids))
  redis.call('ZREM', expiry, unpack(ids))
  if total ~= 0 then redis.call('HINCRBY', state, 'reserved', int(-total)) end
end

-- Rebuild bookkeeping (see RESTORE_LUA). \`sealed\`: the workspace's epoch marker exists, i.e. its
-- counters hold the books' figures. While it is absent (Redis lost the counters, or never had
-- them), a counter hash that admit/settle create is flagged 'p' (born after the loss), so the
-- rebuild adds the books to it instead of trusting it. Call before the first write to the hash.
local function isSealed(epochKey)
  return epochKey == nil or redis.call('EXISTS', epochKey) == 1
end
local function flagIfNew(state, sealed)
  if not sealed and redis.call('EXISTS', state) == 0 then redis.call('HSET', state, 'p', '1') end
end

-- Removes one request's reservation if it is still there (absent: already expired or released).
local function release(state, expiry, amount, id)
  local amt = redis.call('HGET', amount, id)
  if not amt then return end
  redis.call('HDEL', amount, id)
  redis.call('ZREM', expiry, id)
  redis.call('HINCRBY', state, 'reserved', int(-num(amt)))
end
`;
