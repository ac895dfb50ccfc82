-- Store a new passkey.
-- KEYS[1] passkey hash; ARGV[1..] field, value, ...
-- Returns 1, or 0 when the id is taken.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
