-- Approve a pending verification without a code: the client vouches for the person (the Twilio
-- Verify face's Status=approved). Compare-and-set on the status, like approve.lua, so a
-- verification is approved at most once (invariant 2, docs/architecture.md).
-- KEYS[1] verification hash
-- ARGV[1] client; ARGV[2] now (ms), or '' for Redis's TIME
-- Returns the hash as field, value, ... after the change, or an empty list when there is no
-- pending, unexpired verification of this client with checks left: a locked one stays locked.
local F = fields_of(KEYS[1])
local now = tonumber(ARGV[2])
if not now then  -- '' asks for the server's clock: one clock for every app host
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local h = hmget(KEYS[1], F.client, F.status, F.expires_ms, F.attempts,
  F.max_attempts)
if h[1] ~= ARGV[1] or h[2] ~= 'pending' or now >= tonumber(h[3])
    or tonumber(h[4]) >= tonumber(h[5]) then
  return {}
end
redis.call('HSET', KEYS[1], F.status, 'approved', F.updated_ms, now)
return redis.call('HGETALL', KEYS[1])
