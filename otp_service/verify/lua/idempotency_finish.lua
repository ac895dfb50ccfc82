-- Keep the answer of a claimed idempotency key, if the claim is still this request's.
-- KEYS[1] the key's hash
-- ARGV[1] claim token; ARGV[2] HTTP status; ARGV[3] body; ARGV[4] how long a key is kept (ms)
-- Returns 1 when kept, 0 when the claim was lost (expired or trimmed).
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'done', 'status', ARGV[2], 'body', ARGV[3])
redis.call('HDEL', KEYS[1], 'token')
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
