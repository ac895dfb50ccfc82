-- Use up the remaining checks of a pending verification (its destination was locked out).
-- KEYS[1] verification hash
-- ARGV[1] now (ms), or '' for Redis's TIME
-- Returns 1 when locked, 0 when it was not pending.
local F = fields_of(KEYS[1])
local now = tonumber(ARGV[1])
if not now then  -- '' asks for the server's clock: one clock for every app host
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
if redis.call('HGET', KEYS[1], F.status) ~= 'pending' then
  return 0
end
redis.call('HSET', KEYS[1], F.attempts, hmget(KEYS[1], F.max_attempts)[1], F.updated_ms, now)
return 1
