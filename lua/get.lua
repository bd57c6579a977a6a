#!lua flags=allow-oom
-- get: read a live session and reset its TTL (sliding expiry).
-- allow-oom: PEXPIRE does not grow memory; reads must work under pressure.
--
-- KEYS[1]  session record key
-- ARGV[1]  TTL in milliseconds (positive integer)
--
-- Reply:
--   hash                     live; the record as HGETALL gives it (its first
--                            element is a field name, never a code); TTL reset
--   {NOT_FOUND, '', {}}      no record
--   {TERMINATED, '', {}}     tombstone
--   {NOT_FOUND, '', {}}      also: past its deadline (field d, see lifetime);
--                            the TTL is clamped to the deadline
--- @include "codes"
--- @include "args"
--- @include "record"
--- @include "lifetime"

local key = KEYS[1]
local ttl = parseTtl(ARGV[1])

local hash = redis.call('HGETALL', key)
if #hash == 0 then return {NOT_FOUND, '', {}} end
if isTombstone(hash) then return {TERMINATED, '', {}} end
ttl = clampTtl(ttl, redis.call('HGET', key, 'd') or nil)
if not ttl then return {NOT_FOUND, '', {}} end
redis.call('PEXPIRE', key, ttl)
return hash
