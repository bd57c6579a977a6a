#!lua flags=allow-oom
-- principalConfirm: the create behind a pending index entry is over (whatever
-- its outcome): flip the entry's score back to positive, the last step of a
-- capped create. An entry that a newer create entered again keeps its score.
--
-- KEYS[1]  principal index key
-- ARGV[1]  session id
-- ARGV[2]  the score principalAdd replied (positive)
--
-- Reply:
--   {OK, '', {}}
--- @include "codes"
--- @include "args"

local key = KEYS[1]
local id = ARGV[1]
local score = positiveInt(ARGV[2]) or fail('bad score')
local current = redis.call('ZSCORE', key, id)
if current and tonumber(current) == -score then redis.call('ZADD', key, 'XX', score, id) end
return {OK, '', {}}
