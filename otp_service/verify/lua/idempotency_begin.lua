-- Claim an idempotency key for one request, or tell what became of it.
-- KEYS[1] the key's hash; KEYS[2] the client's index of keys (ZSET digest → claimed at, ms)
-- ARGV[1] body fingerprint; ARGV[2] claim token; ARGV[3] now (ms), or '' for Redis's TIME;
-- ARGV[4] how long a claim lives unfinished (ms); ARGV[5] how long a key is kept (ms);
-- ARGV[6] most keys kept per client; ARGV[7] this key's digest; ARGV[8] the prefix of key hashes
-- Returns {'claimed'} | {'done', status, body} | {'running'} | {'mismatch'}
-- Both keys share the client's hash tag: one slot. The hashes of keys trimmed from the index are
-- named from ARGV[8], in that same slot.
local now = tonumber(ARGV[3])
if not now then  -- '' asks for the server's clock: one clock for every app host
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local h = redis.call('HMGET', KEYS[1], 'fingerprint', 'state', 'status', 'body')
if h[1] then
  if h[1] ~= ARGV[1] then
    return {'mismatch'}
  end
  if h[2] == 'done' then
    return {'done', h[3], h[4]}
  end
  return {'running'}
end
redis.call('HSET', KEYS[1], 'fingerprint', ARGV[1], 'state', 'running', 'token', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
-- Bounded memory: forget index entries older than a key lives, then the oldest over the cap.
redis.call('ZADD', KEYS[2], now, ARGV[7])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[5]))
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[6])
if excess > 0 then
  local oldest = redis.call('ZPOPMIN', KEYS[2], excess)
  for i = 1, #oldest, 2 do
    redis.call('DEL', ARGV[8] .. oldest[i])
  end
end
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return {'claimed'}
