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
local hash = redis.call('HGETALL', key)
local gen, tombstone = scanRecord(hash)
if not gen then return {NOT_FOUND, '', {}} end
if tombstone then return {TERMINATED, gen, {}} end
return {OK, gen, hash}
