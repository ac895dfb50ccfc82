-- Delete a passkey of this client.
-- KEYS[1] passkey hash; ARGV[1] client
-- Returns {subject_digest, credential_digest} of the deleted passkey, or {} when there is none.
local h = redis.call('HMGET', KEYS[1], 'client', 'subject_digest', 'credential_digest')
if h[1] ~= ARGV[1] then
  return {}
end
redis.call('DEL', KEYS[1])
return {h[2], h[3]}
