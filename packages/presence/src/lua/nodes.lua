-- The live nodes' JSON (info, lastSeen, connections).
-- KEYS[1] set of known node ids
-- ARGV[1] heartbeat key prefix
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local v = redis.call('GET', ARGV[1] .. id)
  if v then out[#out + 1] = v end
end
return out
