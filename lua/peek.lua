#!lua flags=no-writes
-- peek: read a session without touching its TTL. Runs on replicas too.
--
-- KEYS[1]  session record key
-- ARGV     none
--
-- Reply: {code, generation, fields}
--   {OK, gen, hash}          live
--   {NOT_FOUND, '', {}}      no record
--   {TERMINATED, gen, {}}    tombstone; gen is the last generation it had
--- @include "common"

local key = KEYS[1]
local ctl = redis.call('HMGET', key, 'g', 't')
if not ctl[1] then return {NOT_FOUND, '', {}} end
if ctl[2] then return {TERMINATED, ctl[1], {}} end
return {OK, ctl[1], redis.call('HGETALL', key)}
