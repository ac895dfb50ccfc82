-- Mark an activated factor verified: it stops expiring.
-- KEYS[1] factor hash
-- ARGV[1] client; ARGV[2] now (ms), or '' for Redis's TIME
-- Returns 1 when marked, 0 when the factor is gone (expired, deleted or replaced meanwhile).
local now = tonumber(ARGV[2])
if not now then  -- '' asks for the server's clock: one clock for every app host
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local h = redis.call('HMGET', KEYS[1], 'client', 'status')
if h[1] ~= ARGV[1] or h[2] ~= 'unverified' then
  return 0
end
redis.call('HSET', KEYS[1], 'status', 'verified', 'expires_ms', 0, 'activated_ms', now,
  'updated_ms', now)
redis.call('PERSIST', KEYS[1])
return 1
