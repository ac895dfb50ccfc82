-- Create a verification hash, unless one with this id already exists.
-- KEYS[1] verification hash
-- ARGV[1] key TTL in ms (code lifetime + grace); ARGV[2..] field, value pairs
-- Returns 1 when created, 0 when the id was taken.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
