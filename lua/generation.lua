#!lua flags=allow-oom
-- generation: the generation of a session without its metadata; the small
-- round trip a node-local cache makes per hit to check its copy is current.
-- Resets a live session's TTL when ARGV[1] is a TTL, as get does.
-- allow-oom: PEXPIRE does not grow memory; validations must work under pressure.
--
-- KEYS[1]  session record key
-- ARGV[1]  TTL in milliseconds (positive integer) to reset a live session's
--          TTL to, or '' to leave the TTL alone
--
-- Reply:
--   gen                      (integer) live, at generation gen; TTL reset
--                            when ARGV[1] is not ''
--   {NOT_FOUND, '', {}}      no record
--   {TERMINATED, '', {}}     tombstone
--- @include "codes"
--- @include "args"

local key = KEYS[1]
local ttl = false
if ARGV[1] ~= '' then ttl = parseTtl(ARGV[1]) end

local ctl = redis.call('HMGET', key, 'g', 't')
if not ctl[1] then return {NOT_FOUND, '', {}} end
if ctl[2] then return {TERMINATED, '', {}} end
if ttl then redis.call('PEXPIRE', key, ttl) end
return tonumber(ctl[1])
