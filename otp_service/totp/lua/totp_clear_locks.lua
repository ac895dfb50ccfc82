-- Clear a factor's lockouts and their escalation (an admin's decision), both allowances.
-- KEYS[1] factor hash
-- ARGV[1] client; ARGV[2] now (ms), or '' for Redis's TIME
-- Returns 1 when cleared, 0 when no factor of this client has this id.
local now = tonumber(ARGV[2])
if not now then  -- '' asks for the server's clock: one clock for every app host
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
if redis.call('HGET', KEYS[1], 'client') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'failures', 0, 'locked_until_ms', 0, 'lock_level', 0,
  'backup_failures', 0, 'backup_locked_until_ms', 0, 'backup_lock_level', 0, 'updated_ms', now)
return 1
