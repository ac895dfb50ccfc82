-- Take one check from a verification's budget before its code is compared.
-- KEYS[1] verification hash
-- ARGV[1] client; ARGV[2] now (ms), or '' for Redis's TIME
-- Returns {'ok', code_hash, attempts, max_attempts, to, dest_failures} | {'missing'}
--         | {'expired'} | {'locked', expires_ms}
-- Counting here, before argon2 and atomically, is what keeps checks at or under max_attempts
-- whatever the concurrency (invariant 1, docs/architecture.md). Missing, foreign, used, canceled, failed and
-- expired verifications are all 'missing': a caller learns nothing about other clients' records.
local now = tonumber(ARGV[2])
if not now then  -- '' asks for the server's clock: one clock for every app host
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local h = redis.call('HMGET', KEYS[1], 'client', 'status', 'attempts', 'max_attempts',
  'expires_ms', 'code_hash', 'to', 'dest_failures')
if h[1] ~= ARGV[1] or h[2] ~= 'pending' then
  return {'missing'}
end
if now >= tonumber(h[5]) then
  return {'expired'}
end
local attempts = tonumber(h[3])
if attempts >= tonumber(h[4]) then
  return {'locked', h[5]}
end
redis.call('HSET', KEYS[1], 'attempts', attempts + 1, 'updated_ms', now)
return {'ok', h[6], tostring(attempts + 1), h[4], h[7], h[8] or '0'}
