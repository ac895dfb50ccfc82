-- Create a new start's verification and count its limits, in one script (it includes the
-- functions ``admission`` and ``new_record``: see StartScripts).
-- KEYS[1] verification hash   KEYS[2] destination index   KEYS[3..] keys of ``admission``
-- ARGV[1], ARGV[2] how many keys and arguments ``admission`` takes   ARGV[3] the hash's TTL (ms)
-- ARGV[4] the index's TTL (ms)   ARGV[5] the verification as the index holds
--   it (``index_value``)   ARGV[6] 'server' to move the
--   times onto Redis's TIME, '' to keep them   then the arguments of ``admission``, then how many
--   of the pairs that follow are times (the creation time first), then the hash's field, value
--   pairs
-- Returns {'lost'} when another start claimed the destination since it was admitted, or the id is
-- taken (nothing is counted or written); the refusal of ``admission`` (nothing counted); else
-- {'created'}, with every limit counted, the hash written and the index pointing at it.
local nk, na = tonumber(ARGV[1]), tonumber(ARGV[2])
if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('EXISTS', KEYS[1]) == 1 then
  return {'lost'}
end
local verdict = admission({unpack(KEYS, 3, 2 + nk)}, {unpack(ARGV, 7, 6 + na)}, true, false)
if verdict[1] ~= 'ok' then
  return verdict
end
new_record(KEYS[1], ARGV[3], ARGV[6], tonumber(ARGV[7 + na]), {unpack(ARGV, 8 + na)})
redis.call('SET', KEYS[2], ARGV[5], 'PX', ARGV[4])
return {'created'}
