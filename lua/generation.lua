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
-- Reply: {code, generation, fields}
--   {OK, gen, {}}            live; TTL reset when ARGV[1] is not ''
--   {NOT_FOUND, '', {}}      no record
--   {TERMINATED, gen, {}}    tombstone; gen is the last generation it had
--- @include "common"

local key = KEYS[1]
local ttl = false
if ARGV[1] ~= '' then
  ttl = parseTtl(ARGV[1])
end

local ctl = redis.call('HMGET', key, 'g', 't')
if not ctl[1] then return {NOT_FOUND, '', {}} end
if ctl[2] then return {TERMINATED, ctl[1], {}} end
if ttl then redis.call('PEXPIRE', key, ttl) end
return {OK, ctl[1], {}}
