-- Create a verification hash, unless one with this id already exists.
-- KEYS[1] verification hash
-- ARGV[1] key TTL in ms (code lifetime + grace); ARGV[2] 'server' to move the *_ms fields onto
-- Redis's TIME, '' to keep them; ARGV[3..] field, value pairs
-- Returns 1 when created, 0 when the id was taken.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
local fields = {unpack(ARGV, 3)}
if ARGV[2] == 'server' then
  -- The *_ms fields were computed on the caller's clock from its 'created_ms': move them all by
  -- the difference to Redis's TIME, so expiry and cooldown follow one clock for every app host.
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  local shift = 0
  for i = 1, #fields, 2 do
    if fields[i] == 'created_ms' then
      shift = now - tonumber(fields[i + 1])
    end
  end
  for i = 1, #fields, 2 do
    if string.sub(fields[i], -3) == '_ms' and tonumber(fields[i + 1]) > 0 then
      fields[i + 1] = tostring(tonumber(fields[i + 1]) + shift)
    end
  end
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
