-- Use up one backup code: compare-and-delete on its hash.
-- KEYS[1] factor hash; KEYS[2] backup codes hash
-- ARGV[1] client; ARGV[2] slot; ARGV[3] code hash that matched; ARGV[4] now (ms), or '' for Redis's TIME
-- Returns 'accepted' | 'used' (already used, or replaced by a regeneration) | 'gone'
-- Of any number of concurrent uses of one code, exactly one sees 'accepted'.
local now = tonumber(ARGV[4])
if not now then  -- '' asks for the server's clock: one clock for every app host
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local h = redis.call('HMGET', KEYS[1], 'client', 'status')
if h[1] ~= ARGV[1] or h[2] ~= 'verified' then
  return 'gone'
end
if redis.call('HGET', KEYS[2], ARGV[2]) ~= ARGV[3] then
  return 'used'
end
redis.call('HDEL', KEYS[2], ARGV[2])
-- The person proved it is them: both allowances start afresh.
redis.call('HSET', KEYS[1], 'failures', 0, 'locked_until_ms', 0, 'lock_level', 0,
  'backup_failures', 0, 'backup_locked_until_ms', 0, 'backup_lock_level', 0, 'updated_ms', now)
return 'accepted'
