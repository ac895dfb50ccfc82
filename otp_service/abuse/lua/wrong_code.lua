-- Count a wrong code for a destination, and lock it when its failure window fills up, in one
-- script (it includes ``destination_lock``, the script of that name, as a function).
-- KEYS[1] the destination's lockout hash   KEYS[2] its run of consecutive wrong codes
-- KEYS[3..] its failure windows (lists of hit times, as the ``limits`` library keeps them)
-- ARGV[1] now, seconds (the app host's clock, as the library's own hits)   ARGV[2] how long the
--   run of wrong codes is kept (s)   ARGV[3] how many windows   ARGV[4..] limit, length (s) of
--   each window   then the arguments of ``destination_lock`` (now, level memory, schedule)
-- A window is exhausted when it refuses the hit or the hit fills it (as the library's ``hit``
-- then ``get_window_stats().remaining == 0``); then every window starts afresh (the next, longer
-- lock takes as many wrong codes again) and the destination is locked for its next step.
-- Returns {1 when locked now else 0, consecutive wrong codes}.
local now = tonumber(ARGV[1])
local windows = tonumber(ARGV[3])
local exhausted = false
for i = 1, windows do
  local key, limit, expiry = KEYS[2 + i], tonumber(ARGV[2 + 2 * i]), tonumber(ARGV[3 + 2 * i])
  local oldest = tonumber(redis.call('LINDEX', key, limit - 1))
  if oldest and oldest >= now - expiry then
    exhausted = true
  else
    redis.call('LPUSH', key, now)
    redis.call('LTRIM', key, 0, limit - 1)
    redis.call('EXPIRE', key, expiry)
    local last = tonumber(redis.call('LINDEX', key, limit - 1))
    exhausted = exhausted or (last ~= nil and last >= now - expiry)
  end
end
local consecutive = redis.call('INCRBY', KEYS[2], 1)
if consecutive == 1 then
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
if exhausted then
  for i = 1, windows do
    redis.call('DEL', KEYS[2 + i])
  end
  destination_lock({KEYS[1]}, {unpack(ARGV, 4 + 2 * windows)})
end
return {exhausted and 1 or 0, consecutive}
