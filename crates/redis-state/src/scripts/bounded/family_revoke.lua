-- ARGV[5] family, ARGV[6] how long (ms) to remember the revocation of a
-- family that has not started yet. Returns 1 if the family had started.
local key = entries .. ARGV[5]
local started = redis.call('EXISTS', key)
redis.call('HSET', key, 'revoked', '1')
if started == 1 then
  redis.call('HDEL', key, 'cur')
else
  redis.call('PEXPIRE', key, tonumber(ARGV[6]))
end
return started
