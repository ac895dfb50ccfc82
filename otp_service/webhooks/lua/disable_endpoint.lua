-- Mark a webhook endpoint disabled: it answered 410 Gone (Standard Webhooks: stop sending).
-- KEYS[1] the endpoint's disabled mark
-- ARGV[1] when (ms); ARGV[2] the webhook id whose delivery got the 410
-- Returns 1
redis.call('HSET', KEYS[1], 'disabled_ms', ARGV[1], 'webhook_id', ARGV[2])
return 1
