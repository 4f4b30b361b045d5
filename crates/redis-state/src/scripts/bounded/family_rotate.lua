-- ARGV[5] family, ARGV[6] the digest presented, ARGV[7] the new token's
-- digest, ARGV[8] the new value, ARGV[9] how many rotated tokens to
-- remember. Returns 1 when rotated; 0 when the family is gone or revoked,
-- or when the presented token is no longer its newest (rotated meanwhile
-- by another request: a reuse, which revokes the family).
local key = entries .. ARGV[5]
local found = redis.call('HMGET', key, 'cur', 'revoked')
if found[2] or not found[1] then
  return 0
end
if found[1] ~= ARGV[6] then
  redis.call('HSET', key, 'revoked', '1')
  redis.call('HDEL', key, 'cur')
  return 0
end
local ttl = redis.call('PTTL', key)
if ttl <= 0 then
  return 0
end
redis.call('HSET', key, 'cur', ARGV[7], 'v', ARGV[8])
redis.call('SET', ARGV[3] .. ARGV[7], ARGV[5], 'PX', ttl)
local retired = ARGV[4] .. ARGV[5]
redis.call('RPUSH', retired, ARGV[6])
redis.call('PEXPIRE', retired, ttl)
while redis.call('LLEN', retired) > tonumber(ARGV[9]) do
  redis.call('DEL', ARGV[3] .. redis.call('LPOP', retired))
end
return 1
