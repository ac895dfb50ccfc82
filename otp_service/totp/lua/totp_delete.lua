-- Delete a factor and its backup codes.
-- KEYS[1] factor hash; KEYS[2] backup codes hash
-- ARGV[1] client; ARGV[2] status required ('' = any)
-- Returns the factor's subject digest (to release its subject index), or nil when there is no
-- such factor of this client.
local h = redis.call('HMGET', KEYS[1], 'client', 'status', 'subject_digest')
if h[1] ~= ARGV[1] or (ARGV[2] ~= '' and h[2] ~= ARGV[2]) then
  return false
end
redis.call('DEL', KEYS[1], KEYS[2])
return h[3]
