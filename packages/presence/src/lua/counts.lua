-- One match's count per live node. A node is live while its heartbeat key exists (PX TTL).
-- KEYS[1] set of known node ids
-- ARGV[1] heartbeat key prefix   ARGV[2] counts hash prefix   ARGV[3] match id
-- Returns a flat array: node id, count, node id, count, ... (only counts > 0).
-- The per-node keys are built here from the prefixes; they share KEYS[1]'s hash tag, so they live
-- in the same Redis Cluster slot.
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. id) == 1 then
    local v = redis.call('HGET', ARGV[2] .. id, ARGV[3])
    if v then
      local n = tonumber(v)
      if n > 0 then
        out[#out + 1] = id
        out[#out + 1] = n
      end
    end
  end
end
return out
