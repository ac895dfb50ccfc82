-- End a block (an admin's decision). KEYS[1] the block record.
-- Returns the record as a flat list [field, value, ...], empty when there was none.
local record = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return record
