-- Move a factor's subject digest to a new name (plain SHA-256 -> keyed digest), compare-and-set.
-- KEYS[1] factor hash
-- ARGV[1] the digest it should hold now; ARGV[2] the new digest
-- Returns 1 when renamed, 0 when the factor is gone or holds another digest.
if redis.call('HGET', KEYS[1], 'subject_digest') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'subject_digest', ARGV[2])
return 1
