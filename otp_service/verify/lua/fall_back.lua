-- Send the next code of a verification on another channel, after its provider refused the last.
-- KEYS[1] verification hash
-- ARGV[1] client; ARGV[2] now (ms), or '' for Redis's TIME; ARGV[3] the channel that failed;
-- ARGV[4] the code hash that failed; ARGV[5] the next channel; ARGV[6] its code hash;
-- ARGV[7] code lifetime (ms); ARGV[8] grace after expiry (ms); ARGV[9] the channels left after it
-- ARGV[4] '' reopens a pending verification whose delivery the provider reported failed
-- ARGV[10] (timed fallback) the sends the timer was set after: with ARGV[4] '', a pending,
-- unexpired verification with checks left that has made exactly that many sends is reopened
-- Returns {'ok', field, value, ...} | {'gone'} | {'max_sends'}
-- Only a verification that failed on that very channel and code is reopened (a fallback is a
-- resend: a new code, one more send, the attempts left alone), so a concurrent resend or check
-- that changed it wins.
local F = fields_of(KEYS[1])
local h = hmget(KEYS[1], F.client, F.status, F.channel, F.code_hash, F.sends,
  F.max_sends, F.first_channel, F.send_log, F.delivery_status, F.expires_ms, F.attempts,
  F.max_attempts)
local now = tonumber(ARGV[2])
if not now then  -- '' asks for the server's clock: one clock for every app host
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local refused = h[2] == 'failed' and h[4] == ARGV[4]
local undelivered = ARGV[4] == '' and h[2] == 'pending' and now < tonumber(h[10])
  and (h[9] == 'undelivered' or h[9] == 'failed')
if ARGV[10] and ARGV[10] ~= '' then
  -- A timer: only the send it was set after, still unanswered, falls back (a resend, a check or
  -- another fallback since then wins; the timer's job may run twice and changes nothing then).
  refused = false
  undelivered = ARGV[4] == '' and h[2] == 'pending' and now < tonumber(h[10])
    and h[5] == ARGV[10] and tonumber(h[11]) < tonumber(h[12])
end
if h[1] ~= ARGV[1] or h[3] ~= ARGV[3] or not (refused or undelivered) then
  return {'gone'}
end
if tonumber(h[5]) >= tonumber(h[6]) then
  return {'max_sends'}
end
local log = (h[8] or '')
if log ~= '' then
  log = log .. ','
end
redis.call('HSET', KEYS[1], F.status, 'pending', F.channel, ARGV[5], F.code_hash, ARGV[6],
  F.sends, tonumber(h[5]) + 1, F.expires_ms, now + tonumber(ARGV[7]), F.updated_ms, now,
  F.delivery_status, '', F.first_channel, h[7] or ARGV[3],
  F.send_log, log .. ARGV[5] .. '@' .. now, F.fallbacks, ARGV[9])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[7]) + tonumber(ARGV[8]))
local result = redis.call('HGETALL', KEYS[1])
table.insert(result, 1, 'ok')
return result
