#!lua flags=allow-oom
-- principalKeep: keep a principal's index alive at least as long as the
-- session whose TTL was just reset (a session slides, its index must not
-- expire under it). Sets `set` ms when fewer than `min` ms are left, so most
-- calls write nothing. An index that is gone stays gone (nothing to keep).
--
-- KEYS[1]  principal index key
-- ARGV[1]  min: the least TTL the index must have, ms (positive integer)
-- ARGV[2]  set: the TTL to give it when it has less, ms (positive integer)
--
-- Reply:
--   {OK, '', {}}
--- @include "codes"
--- @include "args"

local key = KEYS[1]
local min = parseTtl(ARGV[1])
local set = parseTtl(ARGV[2])
local pttl = redis.call('PTTL', key)
if pttl ~= -2 and pttl < min then redis.call('PEXPIRE', key, set) end
return {OK, '', {}}
