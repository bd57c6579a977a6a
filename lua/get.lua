#!lua flags=allow-oom
-- get: read a live session and reset its TTL (sliding expiry).
-- allow-oom: PEXPIRE does not grow memory; reads must work under pressure.
--
-- KEYS[1]  session record key
-- ARGV[1]  TTL in milliseconds (positive integer)
--
-- Reply: {code, generation, fields}
--   {OK, gen, hash}          live; TTL reset
--   {NOT_FOUND, '', {}}      no record
--   {TERMINATED, gen, {}}    tombstone; gen is the last generation it had
--- @include "common"

local key = KEYS[1]
local ttl = parseTtl(ARGV[1])

local hash = redis.call('HGETALL', key)
local gen, tombstone = scanRecord(hash)
if not gen then return {NOT_FOUND, '', {}} end
if tombstone then return {TERMINATED, gen, {}} end
redis.call('PEXPIRE', key, ttl)
return {OK, gen, hash}
