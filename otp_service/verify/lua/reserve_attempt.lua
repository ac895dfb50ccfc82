-- Take one check from a verification's budget before its code is compared.
-- KEYS[1] verification hash
-- ARGV[1] client; ARGV[2] now (ms), or '' for Redis's TIME
-- Returns {'ok', code_hash, attempts, max_attempts, to, dest_failures, channel, sends, sent_ms}
--         | {'missing'}
--         | {'gone', reason} | {'expired', reason} | {'locked', expires_ms}
-- Counting here, before argon2 and atomically, is what keeps checks at or under max_attempts
-- whatever the concurrency (invariant 1, docs/architecture.md). A missing or foreign verification
-- is 'missing': a caller learns nothing about other clients' records. The owning client learns
-- why its own verification can no longer be checked: 'gone' with the status it ended in
-- (approved, canceled, failed), or 'expired' with 'expired' or 'max_attempts_reached'.
-- channel, sends and sent_ms (when the latest send was made) name the send a right code approves,
-- for the conversion figures.
local F = fields_of(KEYS[1])
local now = tonumber(ARGV[2])
if not now then  -- '' asks for the server's clock: one clock for every app host
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local h = hmget(KEYS[1], F.client, F.status, F.attempts, F.max_attempts,
  F.expires_ms, F.code_hash, F.to, F.dest_failures, F.channel, F.sends, F.created_ms, F.send_log)
if h[1] ~= ARGV[1] then
  return {'missing'}
end
local attempts = tonumber(h[3])
if h[2] ~= 'pending' then
  return {'gone', h[2]}
end
if now >= tonumber(h[5]) then
  if attempts >= tonumber(h[4]) then
    return {'expired', 'max_attempts_reached'}
  end
  return {'expired', 'expired'}
end
if attempts >= tonumber(h[4]) then
  return {'locked', h[5]}
end
redis.call('HSET', KEYS[1], F.attempts, attempts + 1, F.updated_ms, now)
local sent_ms = string.match(h[12] or '', '@(%d+)$') or h[11]
return {'ok', h[6], tostring(attempts + 1), h[4], h[7], h[8] or '0', h[9], h[10], sent_ms}
