-- Token families are bounded entries whose field `cur` is the digest of
-- the family's newest token; `revoked` marks one no token of works any
-- more. `ARGV[3] .. digest` names a token's family (current or rotated
-- alike); `ARGV[4] .. family` lists its rotated tokens, oldest first.
--
-- ARGV[5] family, ARGV[6] origin, ARGV[7] value, ARGV[8] ttl (ms),
-- ARGV[9] per-origin quota, ARGV[10] total, ARGV[11] the first token's
-- digest. Returns 0, starting nothing, when the family was revoked before
-- it started (the code it comes from was replayed meanwhile).
if redis.call('EXISTS', entries .. ARGV[5]) == 1 then
  return 0
end
local ttl = tonumber(ARGV[8])
put(ARGV[5], ARGV[6], ARGV[7], ttl, tonumber(ARGV[9]), tonumber(ARGV[10]), {'cur', ARGV[11]})
redis.call('SET', ARGV[3] .. ARGV[11], ARGV[5], 'PX', ttl)
return 1
