-- Swap a factor's encrypted secret for the same secret under another key, compare-and-set.
-- KEYS[1] factor hash
-- ARGV[1] ciphertext expected; ARGV[2] new key id; ARGV[3] new ciphertext
-- Returns 1 when swapped, 0 when the factor is gone or changed meanwhile.
if redis.call('HGET', KEYS[1], 'secret') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'key_id', ARGV[2], 'secret', ARGV[3])
return 1
