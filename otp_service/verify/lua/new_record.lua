-- new_record(key, ttl_ms, clock, times, fields): write a new verification hash, the function
-- the creating scripts include. ``fields`` are field, value pairs, the first ``times`` of them
-- times computed on the caller's clock from the first one (the creation time); ``clock`` 'server'
-- moves them all by the difference to Redis's TIME, so expiry and cooldown follow one clock for
-- every app host.
local function new_record(key, ttl_ms, clock, times, fields)
  if clock == 'server' then
    local time = redis.call('TIME')
    local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
    local shift = now - tonumber(fields[2])
    for i = 1, times do
      if tonumber(fields[2 * i]) > 0 then
        fields[2 * i] = tostring(tonumber(fields[2 * i]) + shift)
      end
    end
  end
  redis.call('HSET', key, unpack(fields))
  redis.call('PEXPIRE', key, ttl_ms)
end
