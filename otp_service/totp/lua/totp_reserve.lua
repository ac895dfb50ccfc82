-- Take one check from a factor's failure budget before its code is compared.
-- KEYS[1] factor hash; KEYS[2] backup codes hash
-- ARGV[1] client; ARGV[2] status required ('verified' for checks, 'unverified' to activate);
-- ARGV[3] now (ms), or '' for Redis's TIME; ARGV[4] 'totp' | 'backup'; ARGV[5] digits of the TOTP code given;
-- ARGV[6] failures per lockout step; ARGV[7] hard limit of consecutive failures;
-- ARGV[8..] the lockout schedule (ms), shortest first
-- Returns {'ok', key_id, secret, algorithm, digits, last_step, subject_digest, slot, hash, ...}
--         | {'missing'} | {'locked', locked_until_ms} | {'malformed', digits}
-- Every check counts as a failure here, atomically and before any comparison; an accepted code
-- resets the count (totp_accept, totp_use_backup_code). So concurrent guesses never exceed the
-- budget. Each ARGV[6] failures lock the factor for the next step of the schedule (1 min, 5 min,
-- ... up to the last); from ARGV[7] consecutive failures on, every failure locks for the last.
-- TOTP codes and backup codes have separate allowances ('' and 'backup_' fields), so a lockout of
-- one leaves the other as the way back in.
local p = ''
if ARGV[4] == 'backup' then
  p = 'backup_'
end
local h = redis.call('HMGET', KEYS[1], 'client', 'status', 'expires_ms', p .. 'failures',
  p .. 'locked_until_ms', 'digits', 'key_id', 'secret', 'algorithm', 'last_step',
  'subject_digest', p .. 'lock_level')
if h[1] ~= ARGV[1] or h[2] ~= ARGV[2] then
  return {'missing'}
end
local now = tonumber(ARGV[3])
if not now then  -- '' asks for the server's clock: one clock for every app host
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
if tonumber(h[3]) > 0 and now >= tonumber(h[3]) then
  return {'missing'}
end
if now < (tonumber(h[5]) or 0) then
  return {'locked', h[5]}
end
if ARGV[4] == 'totp' and h[6] ~= ARGV[5] then
  return {'malformed', h[6]}
end
local failures = (tonumber(h[4]) or 0) + 1
local level = tonumber(h[12]) or 0
local steps = #ARGV - 7
local locked_until = 0
if failures >= tonumber(ARGV[7]) then
  level = steps
  locked_until = now + tonumber(ARGV[7 + steps])
elseif failures % tonumber(ARGV[6]) == 0 then
  level = math.min(level + 1, steps)
  locked_until = now + tonumber(ARGV[7 + level])
end
redis.call('HSET', KEYS[1], p .. 'failures', failures, p .. 'locked_until_ms', locked_until,
  p .. 'lock_level', level, 'updated_ms', now)
local reply = {'ok', h[7], h[8], h[9], h[6], h[10], h[11]}
if ARGV[4] == 'backup' then
  local codes = redis.call('HGETALL', KEYS[2])
  for i = 1, #codes do
    reply[#reply + 1] = codes[i]
  end
end
return reply
