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
--   {OK, gen, {'p', p}}      TTL reset, for a session with principal p
--   (a reset TTL is clamped to the deadline d, see lifetime; past it: NOT_FOUND)
--   {NOT_FOUND, '', {}}      no record
--   {TERMINATED, '', {}}     tombstone
--- @include "codes"
--- @include "args"
--- @include "lifetime"

local key = KEYS[1]
local ttl = false
if ARGV[1] ~= '' then ttl = parseTtl(ARGV[1]) end

local ctl = redis.call('HMGET', key, 'g', 't', 'p', 'd')
if not ctl[1] then return {NOT_FOUND, '', {}} end
if ctl[2] then return {TERMINATED, '', {}} end
if ttl then
  ttl = clampTtl(ttl, ctl[4])
  if not ttl then return {NOT_FOUND, '', {}} end
  redis.call('PEXPIRE', key, ttl)
  if ctl[3] then return {OK, ctl[1], {'p', ctl[3]}} end
end
return tonumber(ctl[1])
