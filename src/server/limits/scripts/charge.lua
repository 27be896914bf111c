-- A finished request's tokens and cost (docs/spend.md, "Limits and counters").
--
-- KEYS[i]: the key of charge i. ARGV: the current second; then four values per charge: kind
-- (2 tokens, 4 spend), amount, and for spend the durable sum and the key's expiry (ms).
for i, key in ipairs(KEYS) do
  local at = 1 + (i - 1) * 4
  if ARGV[at + 1] == '2' then
    redis.call('HINCRBY', key, ARGV[1], ARGV[at + 2])
    redis.call('PEXPIRE', key, 61000)
  else
    -- Raised to the durable sum first when below it (created, or lost with a Redis restart).
    local stored = redis.call('GET', key)
    if not stored or tonumber(stored) < tonumber(ARGV[at + 3]) then
      redis.call('SET', key, ARGV[at + 3])
    end
    redis.call('INCRBY', key, ARGV[at + 2])
    redis.call('PEXPIREAT', key, ARGV[at + 4])
  end
end
return #KEYS
