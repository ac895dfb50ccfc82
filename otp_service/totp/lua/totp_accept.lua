-- Accept a matched TOTP time step: the replay guard, compare-and-set.
-- KEYS[1] factor hash
-- ARGV[1] client; ARGV[2] status required; ARGV[3] matched time step; ARGV[4] now (ms), or '' for Redis's TIME
-- Returns 'accepted' | 'replayed' (a step at or below the last accepted one) | 'gone'
-- Of any number of concurrent checks of one code, exactly one sees 'accepted'.
local now = tonumber(ARGV[4])
if not now then  -- '' asks for the server's clock: one clock for every app host
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local h = redis.call('HMGET', KEYS[1], 'client', 'status', 'last_step')
if h[1] ~= ARGV[1] or h[2] ~= ARGV[2] then
  return 'gone'
end
if tonumber(ARGV[3]) <= tonumber(h[3]) then
  return 'replayed'
end
redis.call('HSET', KEYS[1], 'last_step', ARGV[3], 'failures', 0, 'locked_until_ms', 0,
  'lock_level', 0, 'updated_ms', now)
return 'accepted'
