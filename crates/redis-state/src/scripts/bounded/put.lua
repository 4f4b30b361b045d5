-- ARGV[3] id, ARGV[4] origin, ARGV[5] value, ARGV[6] ttl (ms),
-- ARGV[7] per-origin quota, ARGV[8] total
put(ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), {})
return 1
