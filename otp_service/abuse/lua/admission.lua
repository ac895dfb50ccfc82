-- admission(keys, argv, count, starts_only): the rate limits, lockout and run of wrong codes a start is
-- subject to, as one Lua function that a start script includes (it is not a script of its own).
-- Every window is a moving window kept exactly as the ``limits`` library keeps it (a list of hit
-- times in seconds, newest first, trimmed to the limit, expiring with the window), so the
-- library's reads, resets and admin views see the same counts.
-- keys[1] the destination's lockout hash   keys[2] its run of consecutive wrong codes
-- keys[3..] the windows' lists, in the order of their arguments
-- argv[1] now, seconds (the app host's clock, as the library's own hits)   argv[2] now (ms) for
--   the lockout, or '' for Redis's TIME   argv[3] consecutive wrong codes that lock
--   argv[4] how long a run of wrong codes is kept (s)   argv[5] how many windows come before the
--   lockout's checks   argv[6..] name, limit, length (s) of each window
-- Tests every window first (with ``starts_only``, only those before the lockout's checks, and
-- nothing is counted); with ``count``, and only when none is exhausted, counts one hit in each. Returns {'limited', name, reset time (s)} or {'ok', consecutive wrong codes}.
local function admission(keys, argv, count, starts_only)
  local now = tonumber(argv[1])
  local windows = (#argv - 5) / 3
  local function window(i)
    return keys[2 + i], argv[3 + 3 * i], tonumber(argv[4 + 3 * i]), tonumber(argv[5 + 3 * i])
  end
  local function exhausted(i)
    local key, name, limit, expiry = window(i)
    local oldest = tonumber(redis.call('LINDEX', key, limit - 1))
    if oldest and oldest >= now - expiry then
      return {'limited', name, tostring(oldest + expiry)}
    end
    return nil
  end
  local consecutive = tonumber(redis.call('GET', keys[2])) or 0
  for i = 1, windows + 1 do
    if starts_only and i > tonumber(argv[5]) then
      return {'ok', consecutive}
    end
    if i == tonumber(argv[5]) + 1 then
      if consecutive >= tonumber(argv[3]) then
        return {'limited', 'consecutive_failures', tostring(now + tonumber(argv[4]))}
      end
      local now_ms = tonumber(argv[2])
      if not now_ms then
        local time = redis.call('TIME')
        now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
      end
      local locked_until = tonumber(redis.call('HGET', keys[1], 'locked_until_ms')) or 0
      if locked_until > now_ms then
        return {'limited', 'destination_failures', tostring(locked_until / 1000)}
      end
    end
    local refusal = i <= windows and exhausted(i)
    if refusal then
      return refusal
    end
  end
  if count then
    for i = 1, windows do
      local key, _, limit, expiry = window(i)
      redis.call('LPUSH', key, now)
      redis.call('LTRIM', key, 0, limit - 1)
      redis.call('EXPIRE', key, expiry)
    end
  end
  return {'ok', consecutive}
end
