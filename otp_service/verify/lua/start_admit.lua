-- Admit a new start (or a resend): its limits and the pumping guard, in one script (a start
-- script includes the functions ``admission`` and ``fraud_admit``: see StartScripts).
-- KEYS[1] the destination index; then ARGV[1] keys of ``admission``, then ARGV[3] keys of
--   ``fraud_admit`` (none when the send is not guarded)
-- ARGV[1], ARGV[2] how many keys and arguments ``admission`` takes; ARGV[3], ARGV[4] the same of
--   ``fraud_admit``; ARGV[5] 'resend' when the pending verification is being resent (the index is
--   not read), else ''; then the arguments of ``admission``, then those of ``fraud_admit``
-- Counts nothing but the guard's send, and that only once every limit admits the start.
-- Returns the refusal of the client's or the IP's starts; {'pending', id} when the destination has
-- a pending verification (the caller resends it, or replaces a stale one, step by step); the
-- refusal of any other limit; else {'ok', consecutive wrong
-- codes, the guard's decision...}.
local nk, na = tonumber(ARGV[1]), tonumber(ARGV[2])
local fk, fa = tonumber(ARGV[3]), tonumber(ARGV[4])
local admission_keys, admission_args = {unpack(KEYS, 2, 1 + nk)}, {unpack(ARGV, 6, 5 + na)}
local verdict = admission(admission_keys, admission_args, false, true)
if verdict[1] ~= 'ok' then
  return verdict
end
local pending = ARGV[5] ~= 'resend' and redis.call('GET', KEYS[1])
if pending then
  return {'pending', pending}
end
verdict = admission(admission_keys, admission_args, false, false)
if verdict[1] ~= 'ok' then
  return verdict
end
if fk == 0 then
  return verdict
end
local decision = fraud_admit({unpack(KEYS, 2 + nk, 1 + nk + fk)},
  {unpack(ARGV, 6 + na, 5 + na + fa)})
return {'ok', verdict[2], unpack(decision)}
