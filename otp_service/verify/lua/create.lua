-- Create a verification hash, unless one with this id already exists.
-- KEYS[1] verification hash
-- ARGV[1] key TTL in ms (code lifetime + grace); ARGV[2] 'server' to move the times onto Redis's
-- TIME, '' to keep them; ARGV[3] how many of the pairs that follow are times (the first of them
-- the creation time); ARGV[4..] field, value pairs
-- Returns 1 when created, 0 when the id was taken.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
local fields = {unpack(ARGV, 4)}
if ARGV[2] == 'server' then
  -- The times were computed on the caller's clock from its creation time: move them all by the
  -- difference to Redis's TIME, so expiry and cooldown follow one clock for every app host.
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  local shift = now - tonumber(fields[2])
  for i = 1, tonumber(ARGV[3]) do
    if tonumber(fields[2 * i]) > 0 then
      fields[2 * i] = tostring(tonumber(fields[2 * i]) + shift)
    end
  end
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
