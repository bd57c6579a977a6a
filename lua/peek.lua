#!lua flags=no-writes
-- peek: read a session without touching its TTL. Runs on replicas too.
--
-- KEYS[1]  session record key
-- ARGV     none
--
-- Reply:
--   hash                     live; the record as HGETALL gives it
--   {NOT_FOUND, '', {}}      no record
--   {TERMINATED, '', {}}     tombstone
--- @include "codes"
--- @include "record"

local hash = redis.call('HGETALL', KEYS[1])
if #hash == 0 then return {NOT_FOUND, '', {}} end
if isTombstone(hash) then return {TERMINATED, '', {}} end
return hash
