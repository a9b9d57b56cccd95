-- Replace a node's whole count table at once (after the store came back, or to resync).
-- KEYS[1] set of known node ids   KEYS[2] the node's counts hash
-- ARGV[1] node id   ARGV[2..] match id, count, match id, count, ... (counts > 0)
redis.call('DEL', KEYS[2])
local n = #ARGV
local chunk = 1000 -- pairs per HSET, well under Lua's unpack limit
local i = 2
while i <= n do
  local last = math.min(i + 2 * chunk - 1, n)
  redis.call('HSET', KEYS[2], unpack(ARGV, i, last))
  i = last + 1
end
redis.call('SADD', KEYS[1], ARGV[1])
return (n - 1) / 2
