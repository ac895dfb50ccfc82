-- Cancel a pending verification of this client.
-- KEYS[1] verification hash
-- ARGV[1] client; ARGV[2] now (ms), or '' for Redis's TIME
-- Returns the hash as field, value, ... after the change, or an empty list when there is no
-- pending, unexpired verification of this client to cancel.
local F = fields_of(KEYS[1])
local now = tonumber(ARGV[2])
if not now then  -- '' asks for the server's clock: one clock for every app host
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local h = redis.call('HMGET', KEYS[1], F.client, F.status, F.expires_ms)
if h[1] ~= ARGV[1] or h[2] ~= 'pending' or now >= tonumber(h[3]) then
  return {}
end
redis.call('HSET', KEYS[1], F.status, 'canceled', F.updated_ms, now)
return redis.call('HGETALL', KEYS[1])
