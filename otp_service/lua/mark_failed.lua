-- Mark a verification failed after its delivery failed, if it still holds the code that failed.
-- KEYS[1] verification hash
-- ARGV[1] code hash of the failed send; ARGV[2] now (ms)
-- Returns 1 when marked, 0 otherwise.
if redis.call('HGET', KEYS[1], 'code_hash') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'status', 'failed', 'updated_ms', ARGV[2])
return 1
