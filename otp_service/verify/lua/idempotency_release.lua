-- Give up a claimed idempotency key (its request failed), so that a retry runs again.
-- KEYS[1] the key's hash; KEYS[2] the client's index of keys
-- ARGV[1] claim token; ARGV[2] this key's digest
-- Returns 1 when released, 0 when the claim was no longer this request's.
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
