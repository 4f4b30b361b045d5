-- Stores the first policy bundle: sets the bundle and its hash only when
-- no bundle is there yet, so two replicas starting at once cannot leave
-- the hash of one beside the files of the other.
--
-- KEYS[1]  the bundle key
-- KEYS[2]  the hash key
-- ARGV[1]  the bundle
-- ARGV[2]  its hash
--
-- Returns 1 when stored, 0 when a bundle was there.

if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('SET', KEYS[2], ARGV[2])
  return 1
end
return 0
