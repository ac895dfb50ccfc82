-- The pumping guard's decision on one SMS, voice or WhatsApp send, or the count of an approval
-- (see docs/fraud.md).
-- KEYS[1..n]    the counts of each level (hash), the country first, then longer prefixes
-- KEYS[n+1..2n] the block record of each level (hash)
-- All keys carry the hash tag {<calling code>}: one slot, so it runs on Redis Cluster too.
-- ARGV[1] now (ms), or '' for Redis's TIME
-- ARGV[2] 'block' | 'monitor' (a send, decided in that mode) | 'approve' (a right code)
-- ARGV[3] allowance (unverified sends every prefix may have)   ARGV[4] ratio (of the expected
--   conversion below which a prefix is suspect)  ARGV[5] z (standard deviations of slack)
-- ARGV[6] prior conversion  ARGV[7] prior weight (sends)  ARGV[8] block length (ms)
-- ARGV[9] how long counts are kept after the last send (ms)  ARGV[10...] the level names
-- Returns {'refused', level, until} when an enforced block covers the number (nothing counted);
-- {'blocked'|'monitored', level, until, window, sends, approvals, expected, excess, threshold}
-- when this send makes a new block (a 'blocked' send is refused and not counted);
-- {'allowed'} otherwise (the send is counted); {'approved'} for an approval.
local now = tonumber(ARGV[1])
if not now then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local mode = ARGV[2]
local allowance, ratio, z = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local prior, weight = tonumber(ARGV[6]), tonumber(ARGV[7])
local block_ms, keep_ms = tonumber(ARGV[8]), tonumber(ARGV[9])
local n = #KEYS / 2
local approval = mode == 'approve'

for i = 1, n do
  if approval then break end
  local block = redis.call('HMGET', KEYS[n + i], 'until', 'mode')
  if block[2] == 'block' and tonumber(block[1]) > now then
    return {'refused', ARGV[9 + i], block[1]}
  end
end

-- Decayed counts (time constants in ms): a count is the sum of e^(-age / tau) over events.
local TAUS = {s1 = 3600e3, a1 = 3600e3, s24 = 86400e3, a24 = 86400e3,
              s7 = 604800e3, a7 = 604800e3, r = 30e3}
local FIELDS = {'t', 's1', 'a1', 's24', 'a24', 's7', 'a7', 'r'}
local counts = {}
for i = 1, n do
  local values = redis.call('HMGET', KEYS[i], unpack(FIELDS))
  local age = math.max(now - (tonumber(values[1]) or now), 0)
  local c = {}
  for j = 2, #FIELDS do
    local field = FIELDS[j]
    c[field] = (tonumber(values[j]) or 0) * math.exp(-age / TAUS[field])
  end
  local added = approval and {'a1', 'a24', 'a7'} or {'s1', 's24', 's7', 'r'}
  for _, field in ipairs(added) do
    c[field] = c[field] + 1
  end
  counts[i] = c
end

local COUNTS = {'s1', 'a1', 's24', 'a24', 's7', 'a7', 'r'}
local function save()
  for i = 1, n do
    local c = counts[i]
    redis.call('HSET', KEYS[i], 't', now, 's1', c.s1, 'a1', c.a1, 's24', c.s24, 'a24', c.a24,
      's7', c.s7, 'a7', c.a7, 'r', c.r)
    redis.call('PEXPIRE', KEYS[i], keep_ms)
  end
end

if approval then
  save()
  return {'approved'}
end

-- What each level is expected to convert: its history older than about a day (7-day counts
-- minus 24-hour counts), weighed against its parent's (the country's: against the prior).
local expected = {}
local parent = prior
for i = 1, n do
  local c = counts[i]
  local sends = math.max(c.s7 - c.s24, 0)
  local approvals = math.min(math.max(c.a7 - c.a24, 0), sends)
  expected[i] = (approvals + weight * parent) / (sends + weight)
  if i == 1 then parent = expected[1] end
end

local function suspect(i, window)
  local c, e = counts[i], expected[i]
  local due = math.max(c['s' .. window] - c.r, 0)  -- sends old enough to have been checked
  local approvals = c['a' .. window]
  local excess = e * due - approvals
  local threshold = allowance + z * math.sqrt(due * e * (1 - e))
  if excess > threshold and approvals < ratio * e * due then
    return {window == '1' and '1h' or '24h', due, approvals, e, excess, threshold}
  end
  return nil
end

local decision = {'allowed'}
for i = n, 1, -1 do
  local figures = suspect(i, '1') or suspect(i, '24')
  if figures then
    local block = redis.call('HMGET', KEYS[n + i], 'until', 'mode')
    local active = tonumber(block[1]) and tonumber(block[1]) > now
    if not active or (block[2] == 'monitor' and mode == 'block') then
      local until_ms = now + block_ms
      local f = {}
      for j = 2, 6 do f[j - 1] = string.format('%.4f', figures[j]) end
      redis.call('DEL', KEYS[n + i])
      redis.call('HSET', KEYS[n + i], 'until', until_ms, 'mode', mode, 'since', now,
        'level', ARGV[9 + i], 'country', ARGV[10], 'window', figures[1], 'sends', f[1], 'approvals', f[2],
        'expected', f[3], 'excess', f[4], 'threshold', f[5])
      redis.call('PEXPIRE', KEYS[n + i], block_ms)
      decision = {mode == 'block' and 'blocked' or 'monitored', ARGV[9 + i], tostring(until_ms),
        figures[1], f[1], f[2], f[3], f[4], f[5]}
    end
    break
  end
end

if decision[1] == 'blocked' then  -- refused: not counted after all
  for j = 1, n do
    for _, field in ipairs({'s1', 's24', 's7', 'r'}) do counts[j][field] = counts[j][field] - 1 end
  end
end
if decision[1] ~= 'allowed' then
  -- The new block explains its level's counts: take them out of the broader levels, so a
  -- country does not inherit the anomaly of one of its ranges and block its other numbers.
  local i = 0
  for j = 1, n do
    if ARGV[9 + j] == decision[2] then i = j end
  end
  for j = 1, i - 1 do
    for _, field in ipairs(COUNTS) do
      counts[j][field] = math.max(counts[j][field] - counts[i][field], 0)
    end
  end
end
save()
return decision
