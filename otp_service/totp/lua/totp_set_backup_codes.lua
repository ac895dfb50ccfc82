-- Replace every backup code of a verified factor (the old ones stop working at once).
-- KEYS[1] factor hash; KEYS[2] backup codes hash
-- ARGV[1] client; ARGV[2] now (ms), or '' for Redis's TIME; ARGV[3..] slot, code hash pairs
-- Returns 1 when replaced, 0 when there is no verified factor of this client.
local now = tonumber(ARGV[2])
if not now then  -- '' asks for the server's clock: one clock for every app host
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local h = redis.call('HMGET', KEYS[1], 'client', 'status')
if h[1] ~= ARGV[1] or h[2] ~= 'verified' then
  return 0
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], unpack(ARGV, 3))
redis.call('HSET', KEYS[1], 'updated_ms', now)
return 1
