-- Point a subject index at a factor, compare-and-set.
-- KEYS[1] subject index (STRING '<factor id>:<status>')
-- ARGV[1] value we expect to replace ('' = none); ARGV[2] new value; ARGV[3] TTL in ms (0 = none)
-- Returns 1 when set, 0 when someone else changed the index first.
-- This is the decisive step of an enrolment (unverified -> another unverified) and of an
-- activation (unverified -> verified): of two racing, exactly one wins.
local current = redis.call('GET', KEYS[1])
if current == false then
  current = ''
end
if current ~= ARGV[1] then
  return 0
end
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
return 1
