-- Accept a matched TOTP time step: the replay guard, compare-and-set.
-- KEYS[1] factor hash
-- ARGV[1] client; ARGV[2] status required; ARGV[3] matched time step; ARGV[4] now (ms)
-- Returns 'accepted' | 'replayed' (a step at or below the last accepted one) | 'gone'
-- Of any number of concurrent checks of one code, exactly one sees 'accepted'.
local h = redis.call('HMGET', KEYS[1], 'client', 'status', 'last_step')
if h[1] ~= ARGV[1] or h[2] ~= ARGV[2] then
  return 'gone'
end
if tonumber(ARGV[3]) <= tonumber(h[3]) then
  return 'replayed'
end
redis.call('HSET', KEYS[1], 'last_step', ARGV[3], 'failures', 0, 'locked_until_ms', 0,
  'updated_ms', ARGV[4])
return 'accepted'
