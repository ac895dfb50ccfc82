-- Drop a destination index only if it still points at this verification.
-- KEYS[1] destination index; ARGV[1] the verification as the index holds it (``index_value``),
-- ARGV[2] its full id (what indexes written before held)
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] or current == ARGV[2] then
  return redis.call('DEL', KEYS[1])
end
return 0
