-- Token bucket: spend ARGV[3] tokens if there are enough. Mirrors src/bucket.ts.
-- KEYS[1] the bucket hash (fields t = tokens, at = ms of that value)
-- ARGV[1] capacity   ARGV[2] refill per second   ARGV[3] cost
-- ARGV[4] now in ms, or '' to use the Redis server clock (one clock for every gateway)
-- Returns {1, remaining tokens (floor)} or {0, retry after ms}.
-- The key expires when the bucket would be full again: an absent bucket is a full one.
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now
if ARGV[4] ~= '' then
  now = tonumber(ARGV[4])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local tokens = capacity
local state = redis.call('HMGET', KEYS[1], 't', 'at')
if state[1] and state[2] then
  local elapsed = math.max(0, now - tonumber(state[2]))
  tokens = math.min(capacity, tonumber(state[1]) + elapsed * rate / 1000)
end

local ok = 0
local answer
if tokens >= cost then
  tokens = tokens - cost
  ok = 1
  answer = math.floor(tokens)
else
  answer = math.max(1, math.ceil((cost - tokens) * 1000 / rate))
end

local ttl = math.ceil((capacity - tokens) * 1000 / rate)
if ttl > 0 then
  redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens), 'at', string.format('%d', now))
  redis.call('PEXPIRE', KEYS[1], ttl)
else
  redis.call('DEL', KEYS[1])
end
return {ok, answer}
