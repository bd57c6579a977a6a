#!lua flags=no-writes
-- exists: whether a live session has this id. Never touches the TTL.
--
-- KEYS[1]  session record key
-- ARGV     none
--
-- Reply: {code, generation, {}}
--   {OK, gen, {}}            live
--   {NOT_FOUND, '', {}}      no record
--   {TERMINATED, gen, {}}    tombstone
--- @include "common"

local ctl = redis.call('HMGET', KEYS[1], 'g', 't')
if not ctl[1] then return {NOT_FOUND, '', {}} end
if ctl[2] then return {TERMINATED, ctl[1], {}} end
return {OK, ctl[1], {}}
