-- Remove a node and all its counts at once (clean stop).
-- KEYS[1] set of known node ids   KEYS[2] heartbeat key   KEYS[3] counts hash
-- ARGV[1] node id
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('SREM', KEYS[1], ARGV[1])
return 1
