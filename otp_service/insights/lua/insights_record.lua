-- Count one event of the conversion figures; keep a send's attempt record, or mark it converted.
-- KEYS[1] the hour's counters (hash); KEYS[2] the hour's attempt records (hash). Both carry the
-- hash tag {<client>:<hour>}: one slot, so the same script runs on Redis Cluster.
-- ARGV[1] how long the counters are kept (ms); ARGV[2] how long attempt records are (ms, 0: none)
-- ARGV[3] 'add' (ARGV[4] attempt id, ARGV[5] its record) | 'convert' (ARGV[4] attempt id,
--         ARGV[5] when, ms) | '' ; ARGV[6...] the counter fields to add 1 to
-- Returns 1. An attempt is converted once, and only if its record is there.
for i = 6, #ARGV do
  redis.call('HINCRBY', KEYS[1], ARGV[i], 1)
end
if #ARGV >= 6 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
if tonumber(ARGV[2]) <= 0 then
  return 1
end
if ARGV[3] == 'add' then
  redis.call('HSET', KEYS[2], ARGV[4], ARGV[5])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
elseif ARGV[3] == 'convert' and redis.call('HEXISTS', KEYS[2], ARGV[4]) == 1 then
  redis.call('HSETNX', KEYS[2], ARGV[4] .. ':converted', ARGV[5])
end
return 1
