#!lua flags=allow-oom
-- principalDrop: remove entries from a principal's index, each only while it
-- still has the score the caller read, so an id that a newer create entered
-- again (with a higher score) stays. ZREM frees memory: allow-oom.
--
-- KEYS[1]  principal index key
-- ARGV     id, score pairs (score as principalList replied it)
--
-- Reply:
--   {OK, '', {}}
--- @include "codes"
--- @include "args"

local key = KEYS[1]
if #ARGV % 2 ~= 0 then fail('odd index entry argument count') end
for i = 1, #ARGV, 2 do
  local score = redis.call('ZSCORE', key, ARGV[i])
  if score and tonumber(score) == tonumber(ARGV[i + 1]) then redis.call('ZREM', key, ARGV[i]) end
end
return {OK, '', {}}
