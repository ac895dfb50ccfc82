-- A valid assertion: the subject's consecutive failures start again from 0 (the lockout level
-- stays, so the next lockout is not shorter than the last).
-- KEYS[1] the subject's throttle hash. Returns 1.
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'failures', 0)
end
return 1
