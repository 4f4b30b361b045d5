-- ARGV[3] id. Returns the value and forgets the entry.
local value = redis.call('HGET', entries .. ARGV[3], 'v')
if value then
  forget(ARGV[3])
end
return value
