-- Create a verification hash, unless one with this id already exists (it includes the function
-- ``new_record``).
-- KEYS[1] verification hash
-- ARGV[1] key TTL in ms (code lifetime + grace); ARGV[2] 'server' to move the times onto Redis's
-- TIME, '' to keep them; ARGV[3] how many of the pairs that follow are times (the first of them
-- the creation time); ARGV[4..] field, value pairs
-- Returns 1 when created, 0 when the id was taken.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
new_record(KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3]), {unpack(ARGV, 4)})
return 1
