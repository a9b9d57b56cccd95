-- Delete the keys of nodes whose heartbeat expired. Atomic, so several nodes may sweep at once:
-- each dead node is removed (and counted) by exactly one of them.
-- KEYS[1] set of known node ids
-- ARGV[1] heartbeat key prefix   ARGV[2] counts hash prefix
-- Returns how many nodes were removed.
local removed = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. id) == 0 then
    redis.call('DEL', ARGV[2] .. id)
    redis.call('SREM', KEYS[1], id)
    removed = removed + 1
  end
end
return removed
