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

local ctl = redis.call('HMGET', key, 'g', 't')
if not ctl[1] then return {NOT_FOUND, '', {}} end
if ctl[2] then return {TERMINATED, ctl[1], {}} end
redis.call('PEXPIRE', key, ttl)
return {OK, ctl[1], redis.call('HGETALL', key)}
