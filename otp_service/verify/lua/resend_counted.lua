-- Resend a pending verification and count its limits, in one script (it includes the functions
-- ``admission`` and ``resend``, the script of that name: see StartScripts).
-- KEYS[1] verification hash   KEYS[2] destination index   KEYS[3..] keys of ``admission``
-- ARGV[1], ARGV[2] how many keys and arguments ``admission`` takes   ARGV[3] the verification
--   as the index holds it (``index_value``)   ARGV[4] the index's TTL (ms)   ARGV[5] its full id
--   (what indexes written before held)   ARGV[6..11] the arguments of ``resend``   then those of
--   ``admission``
-- Returns the refusal of ``admission`` (nothing counted or changed); else what ``resend`` returns,
-- and when that is 'ok' every limit is counted and the index points at the verification for as
-- long as the new code lives (unless another verification claimed it).
local nk, na = tonumber(ARGV[1]), tonumber(ARGV[2])
local admission_keys, admission_args = {unpack(KEYS, 3, 2 + nk)}, {unpack(ARGV, 12, 11 + na)}
local verdict = admission(admission_keys, admission_args, false, false)
if verdict[1] ~= 'ok' then
  return verdict
end
local outcome = resend({KEYS[1]}, {unpack(ARGV, 6, 11)})
if outcome[1] == 'ok' then
  admission(admission_keys, admission_args, true, false)
  local current = redis.call('GET', KEYS[2])
  if current == false or current == ARGV[3] or current == ARGV[5] then
    redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
  end
end
return outcome
