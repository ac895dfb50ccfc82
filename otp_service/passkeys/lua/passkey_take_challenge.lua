-- Consume a pending ceremony: of two concurrent takes, exactly one gets its fields.
-- KEYS[1] challenge hash; ARGV[1] client; ARGV[2] ceremony ('pr' | 'pa')
-- Returns the hash's fields (flat), or {} when it is unknown, used, expired or another client's
-- (another client's is left alone).
local owner = redis.call('HMGET', KEYS[1], 'client', 'ceremony')
if owner[1] ~= ARGV[1] or owner[2] ~= ARGV[2] then
  return {}
end
local fields = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return fields
