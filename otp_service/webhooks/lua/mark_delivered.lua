-- Remember that one message reached one endpoint, so a job run again does not send it twice.
-- KEYS[1] the delivery mark
-- ARGV[1] how long to remember (ms)
-- Returns 1 (first time) | 0 (already marked)
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', tonumber(ARGV[1])) then
  return 1
end
return 0
