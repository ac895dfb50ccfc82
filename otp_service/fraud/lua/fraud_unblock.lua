-- End a block (an admin's decision): its level is counted afresh.
-- KEYS[1] the block record; KEYS[2] the counts of its level.
-- Returns the record as a flat list [field, value, ...], empty when there was none.
local record = redis.call('HGETALL', KEYS[1])
if #record > 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
end
return record
