-- Approve a verification: compare-and-set on its status and on the hash that was checked.
-- KEYS[1] verification hash
-- ARGV[1] code hash that matched; ARGV[2] now (ms), or '' for Redis's TIME
-- Returns 'approved' | 'stale' (a resend replaced the code meanwhile) | 'gone' (no longer pending)
-- Exactly one of any number of concurrent right checks sees 'approved' (invariant 2, docs/architecture.md).
local F = fields_of(KEYS[1])
local now = tonumber(ARGV[2])
if not now then  -- '' asks for the server's clock: one clock for every app host
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local h = redis.call('HMGET', KEYS[1], F.status, F.code_hash)
if h[1] ~= 'pending' then
  return 'gone'
end
if h[2] ~= ARGV[1] then
  return 'stale'
end
redis.call('HSET', KEYS[1], F.status, 'approved', F.updated_ms, now)
return 'approved'
