-- Record a delivery status reported by a provider on an existing verification.
-- KEYS[1] verification hash
-- ARGV[1] delivery status
-- Returns 1 when recorded, 0 when the verification is gone (never re-creates it) or the status
-- would move backwards: callbacks arrive out of order, and a late 'sent' must not hide
-- 'delivered'. A resend clears the status, so the new message starts again from nothing.
local F = fields_of(KEYS[1])
local rank = {queued = 1, accepted = 1, sending = 1, sent = 2, delivered = 3, undelivered = 3,
  failed = 3}
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local current = redis.call('HGET', KEYS[1], F.delivery_status)
if current and rank[current] and (rank[ARGV[1]] or 0) < rank[current] then
  return 0
end
-- The verification's own state is unchanged: its update time stays (a receipt is about a send).
redis.call('HSET', KEYS[1], F.delivery_status, ARGV[1])
return 1
