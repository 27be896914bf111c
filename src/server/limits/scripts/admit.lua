-- One request's checks, all or nothing (docs/spend.md, "Limits and counters").
--
-- KEYS[i]: the key of check i. ARGV: now (ms), a new lease's expiry (ms), the lease length (ms),
-- this request's id; then four values per check: kind (1 requests, 2 tokens, 3 concurrent,
-- 4 spend), limit, and for spend the durable sum and the key's expiry (ms).
--
-- Every check is evaluated before anything is written, so a refused request consumes nothing
-- (dropping what has left a window is not consuming). Returns {admitted (1 or 0), the first
-- refusing check (1-based; 0), its retry time (ms)}, then {used, reset (ms)} per check as they
-- were before this request.
local now = tonumber(ARGV[1])
local window = 60000
local out = {1, 0, 0}
local raise = {}

for i, key in ipairs(KEYS) do
  local at = 4 + (i - 1) * 4
  local kind = ARGV[at + 1]
  local limit = tonumber(ARGV[at + 2])
  local used, reset, retry = 0, 0, window
  if kind == '1' then
    -- Sliding-window log: a ZSET of request ids scored by admission time.
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
    used = redis.call('ZCARD', key)
    if used > 0 then
      reset = tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2]) + window - now
      if used >= limit and limit > 0 then
        -- The use whose leaving brings the count under the limit.
        local nth = redis.call('ZRANGE', key, used - limit, used - limit, 'WITHSCORES')
        retry = tonumber(nth[2]) + window - now
      end
    end
  elseif kind == '2' then
    -- Tokens per second: a HASH of second -> tokens, the last 60 seconds counted.
    local second = math.floor(now / 1000)
    local fields = redis.call('HGETALL', key)
    local live = {}
    for j = 1, #fields, 2 do
      local s = tonumber(fields[j])
      if s <= second - 60 then
        redis.call('HDEL', key, fields[j])
      else
        local n = tonumber(fields[j + 1])
        used = used + n
        live[#live + 1] = {s, n}
      end
    end
    if #live > 0 then
      table.sort(live, function(a, b) return a[1] < b[1] end)
      reset = (live[1][1] + 60) * 1000 - now
      if used >= limit then
        local left = used
        for _, bucket in ipairs(live) do
          left = left - bucket[2]
          if left < limit then
            retry = (bucket[1] + 60) * 1000 - now
            break
          end
        end
      end
    end
  elseif kind == '3' then
    -- Leases: a ZSET of request ids scored by expiry; a dead instance's leases run out.
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    used = redis.call('ZCARD', key)
    retry = 1000
  else
    -- Spend: a counter, never below the durable sum the caller read from the database.
    local durable = tonumber(ARGV[at + 3])
    local stored = redis.call('GET', key)
    used = durable
    if stored and tonumber(stored) >= durable then
      used = tonumber(stored)
    else
      raise[i] = true
    end
  end
  if used >= limit and out[1] == 1 then
    out[1] = 0
    out[2] = i
    -- A use stamped by an instance whose clock runs ahead never asks for more than the window.
    out[3] = math.min(math.max(retry, 1), window)
  end
  out[#out + 1] = used
  out[#out + 1] = math.min(math.max(reset, 0), window)
end

if out[1] == 1 then
  for i, key in ipairs(KEYS) do
    local at = 4 + (i - 1) * 4
    local kind = ARGV[at + 1]
    if kind == '1' then
      redis.call('ZADD', key, ARGV[1], ARGV[4])
      redis.call('PEXPIRE', key, window + 1000)
    elseif kind == '3' then
      redis.call('ZADD', key, ARGV[2], ARGV[4])
      redis.call('PEXPIRE', key, tonumber(ARGV[3]) * 2)
    elseif kind == '4' and raise[i] then
      redis.call('SET', key, ARGV[at + 3], 'PXAT', ARGV[at + 4])
    end
  end
end
return out
