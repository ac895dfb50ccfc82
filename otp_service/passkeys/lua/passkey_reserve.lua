-- Take one verify from a subject's failure budget before the assertion is checked.
-- KEYS[1] the subject's throttle hash
-- ARGV[1] now (ms), or '' for Redis's TIME; ARGV[2] failures per lockout step;
-- ARGV[3] hard limit of consecutive failures; ARGV[4..] the lockout schedule (ms), shortest first
-- Returns {'ok'} | {'locked', locked_until_ms}
-- As for TOTP factors: every verify counts as a failure first and a valid one resets the count
-- (passkey_reset), so concurrent attempts never exceed the budget. Each ARGV[2] failures lock the
-- subject's passkeys for the next step of the schedule; from ARGV[3] on, each failure locks for
-- the last step. The hash lives as long as its longest lockout.
local h = redis.call('HMGET', KEYS[1], 'failures', 'locked_until_ms', 'lock_level')
local now = tonumber(ARGV[1])
if not now then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
if now < (tonumber(h[2]) or 0) then
  return {'locked', h[2]}
end
local failures = (tonumber(h[1]) or 0) + 1
local level = tonumber(h[3]) or 0
local steps = #ARGV - 3
local locked_until = 0
if failures >= tonumber(ARGV[3]) then
  level = steps
  locked_until = now + tonumber(ARGV[3 + steps])
elseif failures % tonumber(ARGV[2]) == 0 then
  level = math.min(level + 1, steps)
  locked_until = now + tonumber(ARGV[3 + level])
end
redis.call('HSET', KEYS[1], 'failures', failures, 'locked_until_ms', locked_until,
  'lock_level', level)
redis.call('PEXPIREAT', KEYS[1], math.max(locked_until, now) + tonumber(ARGV[3 + steps]))
return {'ok'}
