-- Admits one request in one round trip: refuses a revoked token, then
-- charges a rate limit (a generic cell rate algorithm).
--
-- KEYS[1]  the limit key
-- KEYS[2]  the token's revocation marker (by jti)         } only when the
-- KEYS[3]  the subject's revocation cutoff                } token is to be
-- KEYS[4]  the cutoff for every token                     } checked
-- ARGV[1]  the limit's interval in microseconds (0: no limit)
-- ARGV[2]  the window in microseconds
-- ARGV[3]  the token's iat in seconds, or -1 when it has none
--
-- Returns {1, 0} admitted, {0, wait_us} over the limit, {2, 0} revoked.
-- The clock is Redis's own, so replicas whose clocks differ count alike.

if #KEYS == 4 then
  local issued = tonumber(ARGV[3])
  local function cut_off(key)
    local cutoff = redis.call('GET', key)
    if not cutoff then
      return false
    end
    return issued < 0 or issued < tonumber(cutoff)
  end
  if redis.call('EXISTS', KEYS[2]) == 1 or cut_off(KEYS[3]) or cut_off(KEYS[4]) then
    return {2, 0}
  end
end

local interval = tonumber(ARGV[1])
if interval == 0 then
  return {1, 0}
end
local window = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local arrival = tonumber(redis.call('GET', KEYS[1]) or now)
if arrival < now then
  arrival = now
end
local next = arrival + interval
local ahead = next - now
if ahead > window then
  return {0, ahead - window}
end
redis.call('SET', KEYS[1], string.format('%d', next), 'PX', math.ceil(ahead / 1000))
return {1, 0}
