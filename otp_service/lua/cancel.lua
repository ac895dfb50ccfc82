-- Cancel a pending verification of this client.
-- KEYS[1] verification hash
-- ARGV[1] client; ARGV[2] now (ms)
-- Returns the hash as field, value, ... after the change, or an empty list when there is no
-- pending, unexpired verification of this client to cancel.
local h = redis.call('HMGET', KEYS[1], 'client', 'status', 'expires_ms')
if h[1] ~= ARGV[1] or h[2] ~= 'pending' or tonumber(ARGV[2]) >= tonumber(h[3]) then
  return {}
end
redis.call('HSET', KEYS[1], 'status', 'canceled', 'updated_ms', ARGV[2])
return redis.call('HGETALL', KEYS[1])
