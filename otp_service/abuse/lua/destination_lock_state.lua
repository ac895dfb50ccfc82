-- A destination's lockout as of now.
-- KEYS[1] lock hash
-- ARGV[1] now (ms), or '' for Redis's TIME
-- Returns {locked_until_ms (0: not locked now), level}.
local now = tonumber(ARGV[1])
if not now then  -- '' asks for the server's clock: one clock for every app host
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local h = redis.call('HMGET', KEYS[1], 'locked_until_ms', 'level')
local until_ms = tonumber(h[1]) or 0
if until_ms <= now then
  until_ms = 0
end
return {until_ms, tonumber(h[2]) or 0}
