-- Change one (node, match) count by a delta; a count never stays at or below zero (the field
-- is deleted instead), so a late or repeated remove cannot make totals go negative.
-- KEYS[1] set of known node ids   KEYS[2] the node's counts hash
-- ARGV[1] node id   ARGV[2] match id   ARGV[3] delta (integer, may be negative)
-- Returns the new count (0 if deleted).
local v = redis.call('HINCRBY', KEYS[2], ARGV[2], ARGV[3])
if v <= 0 then
  redis.call('HDEL', KEYS[2], ARGV[2])
  return 0
end
-- Known to sweep even if the node never heartbeats, so its hash cannot leak.
redis.call('SADD', KEYS[1], ARGV[1])
return v
