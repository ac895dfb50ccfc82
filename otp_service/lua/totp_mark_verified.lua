-- Mark an activated factor verified: it stops expiring.
-- KEYS[1] factor hash
-- ARGV[1] client; ARGV[2] now (ms)
-- Returns 1 when marked, 0 when the factor is gone (expired, deleted or replaced meanwhile).
local h = redis.call('HMGET', KEYS[1], 'client', 'status')
if h[1] ~= ARGV[1] or h[2] ~= 'unverified' then
  return 0
end
redis.call('HSET', KEYS[1], 'status', 'verified', 'expires_ms', 0, 'activated_ms', ARGV[2],
  'updated_ms', ARGV[2])
redis.call('PERSIST', KEYS[1])
return 1
