-- Drop a destination index only if it still points at this verification.
-- KEYS[1] destination index; ARGV[1] verification id
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
