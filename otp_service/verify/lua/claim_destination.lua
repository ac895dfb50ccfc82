-- Point a destination index at a new verification, compare-and-set.
-- KEYS[1] destination index (STRING: the pending verification, as ``index_value`` writes it)
-- ARGV[1] new value; ARGV[2] value we expect to replace ('' = none); ARGV[3] TTL in ms;
-- ARGV[4] the expected verification's full id (what indexes written before held; '' = none)
-- The index is a hint: it may point at a verification that is gone, which the caller saw and
-- names in ARGV[2]. Anyone else's claim in between wins, and we return 0.
local current = redis.call('GET', KEYS[1])
if current == false or current == ARGV[2] or (ARGV[4] ~= '' and current == ARGV[4]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
  return 1
end
return 0
