-- Record a verified assertion: the sign counter moves by compare-and-set.
-- KEYS[1] passkey hash; ARGV[1] client; ARGV[2] the counter the assertion was verified against;
-- ARGV[3] the assertion's counter; ARGV[4] now (ms), or '' for Redis's TIME; ARGV[5] backed up (0|1)
-- Returns 'ok', 'raced' (another assertion moved the counter first, or this one does not
-- increase it) or 'gone'.
-- A counter of 0 that stays 0 is accepted (synced passkeys never count); any other counter must
-- increase, so of two concurrent uses of one assertion at most one is recorded.
local h = redis.call('HMGET', KEYS[1], 'client', 'sign_count')
if h[1] ~= ARGV[1] then
  return 'gone'
end
local stored = tonumber(h[2]) or 0
local new = tonumber(ARGV[3])
if stored ~= tonumber(ARGV[2]) then
  return 'raced'
end
if (new > 0 or stored > 0) and new <= stored then
  return 'raced'
end
local now = tonumber(ARGV[4])
if not now then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
redis.call('HSET', KEYS[1], 'sign_count', new, 'last_used_ms', now, 'backed_up', ARGV[5])
return 'ok'
