-- Totals over live nodes for many matches at once.
-- KEYS[1] set of known node ids
-- ARGV[1] heartbeat key prefix   ARGV[2] counts hash prefix   ARGV[3..] match ids
-- Returns one integer per match id, in order.
local m = #ARGV - 2
local totals = {}
for j = 1, m do totals[j] = 0 end
if m == 0 then return totals end
local chunk = 2000 -- fields per HMGET, well under Lua's unpack limit
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. id) == 1 then
    local hash = ARGV[2] .. id
    if redis.call('EXISTS', hash) == 1 then
      local first = 3
      while first <= #ARGV do
        local last = math.min(first + chunk - 1, #ARGV)
        local vals = redis.call('HMGET', hash, unpack(ARGV, first, last))
        for k = 1, last - first + 1 do
          local v = vals[k]
          if v then
            local n = tonumber(v)
            if n > 0 then
              local j = first - 3 + k
              totals[j] = totals[j] + n
            end
          end
        end
        first = last + 1
      end
    end
  end
end
return totals
