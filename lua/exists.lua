#!lua flags=no-writes
-- exists: whether a live session has this id. Never touches the TTL.
--
-- KEYS[1]  session record key
-- ARGV     none
--
-- Reply:
--   gen                      (integer) live, at generation gen
--   {NOT_FOUND, '', {}}      no record
--   {TERMINATED, '', {}}     tombstone
--- @include "codes"

local ctl = redis.call('HMGET', KEYS[1], 'g', 't')
if not ctl[1] then return {NOT_FOUND, '', {}} end
if ctl[2] then return {TERMINATED, '', {}} end
return tonumber(ctl[1])
