-- Bounded entries: expiring hashes (`v` the value, `o` its origin) held at
-- most `per_origin` per origin and `total` in all. Nobody is refused: an
-- origin at its quota loses its own entry nearest expiry, and a full kind
-- loses the one nearest expiry of all. Each origin's entries, and the
-- kind's, are kept in sorted sets scored by expiry (µs since the epoch:
-- fine enough that entries put one after another never tie).
--
-- Every script built on this one is called with
--   ARGV[1]  the entries' key prefix (`<prefix>:bounded:<kind>:`)
--   ARGV[2]  the quota sets' key prefix (`<prefix>:quota:<kind>:`)
-- and the kind's own set is `ARGV[2] .. '*'` (an origin is never `*`).

local entries, quotas = ARGV[1], ARGV[2]
local everyone = quotas .. '*'

local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

local function forget(id)
  local key = entries .. id
  local origin = redis.call('HGET', key, 'o')
  redis.call('DEL', key)
  redis.call('ZREM', everyone, id)
  if origin then
    redis.call('ZREM', quotas .. origin, id)
  end
end

local function make_room(set, limit, now)
  redis.call('ZREMRANGEBYSCORE', set, '-inf', now)
  while redis.call('ZCARD', set) >= limit do
    forget(redis.call('ZRANGE', set, 0, 0)[1])
  end
end

local function keep_set(set, ttl)
  local left = redis.call('PTTL', set)
  if left < ttl then
    redis.call('PEXPIRE', set, ttl)
  end
end

-- Stores `value` as `id` for `ttl` ms with `fields` (name, value, ...)
-- beside it, first making room.
local function put(id, origin, value, ttl, per_origin, total, fields)
  local now = now_us()
  forget(id)
  make_room(quotas .. origin, per_origin, now)
  make_room(everyone, total, now)
  local key = entries .. id
  redis.call('HSET', key, 'v', value, 'o', origin, unpack(fields))
  redis.call('PEXPIRE', key, ttl)
  redis.call('ZADD', quotas .. origin, now + ttl * 1000, id)
  redis.call('ZADD', everyone, now + ttl * 1000, id)
  keep_set(quotas .. origin, ttl)
  keep_set(everyone, ttl)
end
