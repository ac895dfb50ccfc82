-- Drop a credential index if it still points at ARGV[1].
-- KEYS[1] credential index; ARGV[1] passkey id. Returns 1 when dropped, else 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
