-- Record a delivery status reported by a provider on an existing verification.
-- KEYS[1] verification hash
-- ARGV[1] delivery status; ARGV[2] now (ms)
-- Returns 1 when recorded, 0 when the verification is gone (never re-creates it).
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'delivery_status', ARGV[1], 'updated_ms', ARGV[2])
return 1
