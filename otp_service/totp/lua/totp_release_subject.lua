-- Drop a subject index only if it still points at this factor (whatever its status).
-- KEYS[1] subject index; ARGV[1] factor id
local current = redis.call('GET', KEYS[1])
if current and string.sub(current, 1, #ARGV[1] + 1) == ARGV[1] .. ':' then
  return redis.call('DEL', KEYS[1])
end
return 0
