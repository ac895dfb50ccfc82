-- The pumping guard's decision on one SMS, voice or WhatsApp send, or the count of an approval
-- (docs/fraud.md has the formula).
-- KEYS[1..n]    the counts of each level (hash), the country first, then longer prefixes
-- KEYS[n+1..2n] the block record of each level (hash)
-- KEYS[2n+1]    the number's trust: set by an approval, it lets the number pass blocks
-- All keys carry the hash tag {<calling code>}: one slot, so it runs on Redis Cluster too.
-- ARGV[1] now (ms), or '' for Redis's TIME
-- ARGV[2] 'block' | 'monitor' (a send, decided in that mode) | 'approve' (a right code)
-- ARGV[3] allowance (unverified sends every prefix may have)   ARGV[4] ratio (of the expected
--   conversion below which a prefix is suspect; half of it for a whole country)
-- ARGV[5] z (standard deviations of slack)  ARGV[6] prior conversion  ARGV[7] prior weight
-- ARGV[8] block length (ms)  ARGV[9] how long counts are kept after the last event (ms)
-- ARGV[10] how long an approval trusts its number (ms)  ARGV[11...] the level names
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
local block_ms, keep_ms, trust_ms = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local n = (#KEYS - 1) / 2
local trust_key = KEYS[2 * n + 1]
local function level(i) return ARGV[10 + i] end

local approval = mode == 'approve'
local trusted = not approval and redis.call('EXISTS', trust_key) == 1
for i = 1, n do
  if approval or trusted then break end
  local block = redis.call('HMGET', KEYS[n + i], 'until', 'mode')
  if block[2] == 'block' and tonumber(block[1]) > now then
    return {'refused', level(i), block[1]}
  end
end

-- Decayed counts (time constants in ms): a count is the sum of e^(-age / tau) over events;
-- r counts the sends of the last seconds, whose codes cannot have been checked yet.
local TAUS = {s1 = 3600e3, a1 = 3600e3, s24 = 86400e3, a24 = 86400e3,
              s7 = 604800e3, a7 = 604800e3, r = 10e3}
local FIELDS = {'t', 's1', 'a1', 's24', 'a24', 's7', 'a7', 'r'}
local COUNTS = {'s1', 'a1', 's24', 'a24', 's7', 'a7', 'r'}
local SENDS = {'s1', 's24', 's7', 'r'}
local counts = {}
for i = 1, n do
  local values = redis.call('HMGET', KEYS[i], unpack(FIELDS))
  local age = math.max(now - (tonumber(values[1]) or now), 0)
  local c = {}
  for j = 2, #FIELDS do
    c[FIELDS[j]] = (tonumber(values[j]) or 0) * math.exp(-age / TAUS[FIELDS[j]])
  end
  for _, field in ipairs(approval and {'a1', 'a24', 'a7'} or SENDS) do
    c[field] = c[field] + 1
  end
  counts[i] = c
end

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
  redis.call('SET', trust_key, now, 'PX', trust_ms)
  return {'approved'}
end
if trusted then  -- a number that used a code is a person's: counted, never the cause of a block
  save()
  return {'allowed'}
end

-- What a level is expected to convert. Its history older than about a day (7-day counts minus
-- 24-hour counts) weighs against its peers': for a prefix, the rest of its country over the
-- last day; for a country, the prior. Neither includes the level's own recent sends, so an
-- attack does not teach the guard that low conversion is normal.
local function shrunk(approvals, sends, towards)
  sends = math.max(sends, 0)
  approvals = math.min(math.max(approvals, 0), sends)
  return (approvals + weight * towards) / (sends + weight)
end
local function history(c, towards)
  return shrunk(c.a7 - c.a24, c.s7 - c.s24, towards)
end
local country = counts[1]
local expected = {history(country, prior)}
for i = 2, n do
  local c = counts[i]
  local peers = shrunk(country.a24 - c.a24, (country.s24 - country.r) - (c.s24 - c.r), expected[1])
  expected[i] = history(c, peers)
end

local function suspect(i, window)
  local c, e = counts[i], expected[i]
  local due = math.max(c['s' .. window] - c.r, 0)  -- sends old enough to have been checked
  local approvals = c['a' .. window]
  local excess = e * due - approvals
  local threshold = allowance + z * math.sqrt(due * e * (1 - e))
  local share = i == 1 and ratio / 2 or ratio
  if excess > threshold and approvals < share * e * due then
    return {window == '1' and '1h' or '24h', due, approvals, e, excess, threshold}
  end
  return nil
end

local decision = {'allowed'}
local blocked = 0
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
        'level', level(i), 'country', level(1), 'window', figures[1], 'sends', f[1],
        'approvals', f[2], 'expected', f[3], 'excess', f[4], 'threshold', f[5])
      redis.call('PEXPIRE', KEYS[n + i], block_ms)
      decision = {mode == 'block' and 'blocked' or 'monitored', level(i), tostring(until_ms),
        figures[1], f[1], f[2], f[3], f[4], f[5]}
      blocked = i
    end
    break
  end
end

if decision[1] == 'blocked' then  -- refused: not counted after all
  for j = 1, n do
    for _, field in ipairs(SENDS) do counts[j][field] = counts[j][field] - 1 end
  end
end
-- A new block explains its level's counts: they leave the broader levels, so a country does
-- not inherit the anomaly of one of its ranges and block its other numbers.
for j = 1, blocked - 1 do
  for _, field in ipairs(COUNTS) do
    counts[j][field] = math.max(counts[j][field] - counts[blocked][field], 0)
  end
end
save()
return decision
