-- Counts one more in a window that starts with the first count.
--
-- KEYS[1]  the counter
-- ARGV[1]  the window, in milliseconds
--
-- Returns the count so far in the window.

local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return count
