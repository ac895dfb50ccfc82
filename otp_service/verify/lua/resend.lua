-- Send a new code for a pending verification: swap the hash, count the send, start the cooldown.
-- KEYS[1] verification hash
-- ARGV[1] client; ARGV[2] now (ms), or '' for Redis's TIME; ARGV[3] new code hash; ARGV[4] cooldown (ms);
-- ARGV[5] code lifetime (ms); ARGV[6] grace after expiry (ms)
-- Returns {'ok', field, value, ...} | {'missing'} | {'locked', expires_ms}
--         | {'max_sends', expires_ms} | {'cooldown', next_send_ms}
-- The attempt counter is left alone: a resend never buys fresh guesses (invariant 1, docs/architecture.md).
local F = fields_of(KEYS[1])
local h = hmget(KEYS[1], F.client, F.status, F.sends, F.max_sends,
  F.next_send_ms, F.expires_ms, F.attempts, F.max_attempts, F.channel, F.send_log)
local now = tonumber(ARGV[2])
if not now then  -- '' asks for the server's clock: one clock for every app host
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
if h[1] ~= ARGV[1] or h[2] ~= 'pending' or now >= tonumber(h[6]) then
  return {'missing'}
end
if tonumber(h[7]) >= tonumber(h[8]) then
  return {'locked', h[6]}
end
if tonumber(h[3]) >= tonumber(h[4]) then
  return {'max_sends', h[6]}
end
if now < tonumber(h[5]) then
  return {'cooldown', h[5]}
end
local expires = now + tonumber(ARGV[5])
local log = h[10] or ''
if log ~= '' then
  log = log .. ','
end
redis.call('HSET', KEYS[1], F.code_hash, ARGV[3], F.sends, tonumber(h[3]) + 1,
  F.next_send_ms, now + tonumber(ARGV[4]), F.expires_ms, expires, F.updated_ms, now,
  F.delivery_status, '', F.send_log, log .. h[9] .. '@' .. now)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[5]) + tonumber(ARGV[6]))
local result = redis.call('HGETALL', KEYS[1])
table.insert(result, 1, 'ok')
return result
