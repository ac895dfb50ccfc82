-- Lock a destination for the next step of the schedule (escalating lockouts).
-- KEYS[1] lock hash (level, locked_until_ms)
-- ARGV[1] now (ms), or '' for Redis's TIME; ARGV[2] how long the level is remembered after the
-- lock ends (ms); ARGV[3..] the schedule (ms), shortest first; the last step repeats
-- Returns locked_until_ms.
local now = tonumber(ARGV[1])
if not now then  -- '' asks for the server's clock: one clock for every app host
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local steps = #ARGV - 2
local level = math.min((tonumber(redis.call('HGET', KEYS[1], 'level')) or 0) + 1, steps)
local locked_until = now + tonumber(ARGV[2 + level])
redis.call('HSET', KEYS[1], 'level', level, 'locked_until_ms', locked_until)
redis.call('PEXPIRE', KEYS[1], locked_until - now + tonumber(ARGV[2]))
return locked_until
