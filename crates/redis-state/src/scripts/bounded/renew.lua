-- ARGV[3] id, ARGV[4] ttl (ms). A live entry expires `ttl` from now, and
-- so becomes the last of its origin to give way. Returns 1 if it was live.
local key = entries .. ARGV[3]
local ttl = tonumber(ARGV[4])
if redis.call('PEXPIRE', key, ttl) == 0 then
  return 0
end
local expiry = now_us() + ttl * 1000
local origin = redis.call('HGET', key, 'o')
redis.call('ZADD', everyone, 'XX', expiry, ARGV[3])
keep_set(everyone, ttl)
if origin then
  redis.call('ZADD', quotas .. origin, 'XX', expiry, ARGV[3])
  keep_set(quotas .. origin, ttl)
end
return 1
