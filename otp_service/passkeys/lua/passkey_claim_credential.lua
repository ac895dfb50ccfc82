-- Point a credential id at a new passkey if it names none (or only ARGV[2], a passkey found gone).
-- KEYS[1] credential index; ARGV[1] the new passkey id; ARGV[2] a stale passkey id, or ''
-- Returns 1 when claimed, 0 when the credential belongs to a passkey.
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[2] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
