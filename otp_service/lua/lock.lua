-- Use up the remaining checks of a pending verification (its destination was locked out).
-- KEYS[1] verification hash
-- ARGV[1] now (ms)
-- Returns 1 when locked, 0 when it was not pending.
if redis.call('HGET', KEYS[1], 'status') ~= 'pending' then
  return 0
end
redis.call('HSET', KEYS[1], 'attempts', redis.call('HGET', KEYS[1], 'max_attempts'),
  'updated_ms', ARGV[1])
return 1
