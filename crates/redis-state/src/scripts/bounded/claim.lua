-- ARGV[3] id, ARGV[4] the claim. The first claim of a live entry gets
-- {1, value}; later ones get {2, the first claim}; a missing entry {0}.
-- The entry stays until it expires, so a replay is recognised.
local key = entries .. ARGV[3]
local found = redis.call('HMGET', key, 'v', 'c')
if not found[1] then
  return {0}
end
if found[2] then
  return {2, found[2]}
end
redis.call('HSET', key, 'c', ARGV[4])
return {1, found[1]}
