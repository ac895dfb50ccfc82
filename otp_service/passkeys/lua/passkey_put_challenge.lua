-- Store a pending ceremony (its challenge), single use, expiring after ARGV[1] ms.
-- KEYS[1] challenge hash; ARGV[1] time to live (ms); ARGV[2..] field, value, ...
-- Returns 1, or 0 when the id is taken (never overwritten).
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
