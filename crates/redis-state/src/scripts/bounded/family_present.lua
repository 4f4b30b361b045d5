-- ARGV[5] a token's digest. Returns {0} unknown, {1} revoked earlier,
-- {2} a rotated token presented again (its family is now revoked), or
-- {3, family, value} for the family's newest token.
local index = ARGV[3] .. ARGV[5]
local family = redis.call('GET', index)
if not family then
  return {0}
end
local key = entries .. family
local found = redis.call('HMGET', key, 'v', 'cur', 'revoked')
if not found[1] then
  -- The family ended or gave way: its tokens are unknown.
  redis.call('DEL', index)
  return {0}
end
if found[3] or not found[2] then
  return {1}
end
if found[2] == ARGV[5] then
  return {3, family, found[1]}
end
redis.call('HSET', key, 'revoked', '1')
redis.call('HDEL', key, 'cur')
return {2}
