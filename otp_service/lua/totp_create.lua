-- Create a TOTP factor hash, unless one with this id already exists.
-- KEYS[1] factor hash
-- ARGV[1] key TTL in ms (0 = no expiry); ARGV[2..] field, value pairs
-- Returns 1 when created, 0 when the id was taken.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
if tonumber(ARGV[1]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return 1
