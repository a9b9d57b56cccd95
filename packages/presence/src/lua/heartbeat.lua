-- Register a node or refresh its heartbeat (join and heartbeat).
-- KEYS[1] set of known node ids   KEYS[2] the node's heartbeat key
-- ARGV[1] node id   ARGV[2] node JSON (info, lastSeen, connections)   ARGV[3] TTL in ms
-- Returns 1 if the node was live before this call, 0 if it was (re)created: its heartbeat had
-- expired, it had left, or Redis lost its data; its counts may be gone and should be rewritten.
local existed = redis.call('EXISTS', KEYS[2])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('SADD', KEYS[1], ARGV[1])
return existed
