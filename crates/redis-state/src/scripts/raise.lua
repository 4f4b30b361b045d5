-- Raises a revocation cutoff (never lowers it) and keeps it for a while.
--
-- KEYS[1]  the cutoff key
-- ARGV[1]  the cutoff, in seconds since the epoch
-- ARGV[2]  how long to keep it, in milliseconds

local cutoff = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or -1)
if cutoff > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2], 'GT')
end
return 1
