-- Mark a verification failed after its delivery failed, if it still holds the code that failed.
-- KEYS[1] verification hash
-- ARGV[1] code hash of the failed send; ARGV[2] now (ms), or '' for Redis's TIME
-- Returns 1 when marked, 0 otherwise.
local F = fields_of(KEYS[1])
local now = tonumber(ARGV[2])
if not now then  -- '' asks for the server's clock: one clock for every app host
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
if redis.call('HGET', KEYS[1], F.code_hash) ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], F.status, 'failed', F.updated_ms, now)
return 1
