-- Add a passkey id to (or remove it from) a subject's set of passkeys.
-- KEYS[1] subject set; ARGV[1] 'add' | 'remove'; ARGV[2] passkey id. Returns 1 when it changed.
if ARGV[1] == 'add' then
  return redis.call('SADD', KEYS[1], ARGV[2])
end
return redis.call('SREM', KEYS[1], ARGV[2])
