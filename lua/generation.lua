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
--   '<gen>' or '<gen>::<p>'  (bulk string, see okReply in lifetime) live, at
--                            generation gen, principal p (named only when the
--                            TTL was reset); TTL reset when ARGV[1] is not ''
--   (a reset TTL is clamped to the deadline d, see lifetime; past it: NOT_FOUND)
--   {NOT_FOUND, '', {}}      no record
--   {TERMINATED, '', {}}     tombstone
--- @include "codes"
--- @include "args"
--- @include "lifetime"

local key = KEYS[1]
local ttl = false
if ARGV[1] ~= '' then ttl = parseTtlString(ARGV[1]) end

local ctl = redis.call('HMGET', key, 'g', 't', 'p', 'd')
if not ctl[1] then return {NOT_FOUND, '', {}} end
if ctl[2] then return {TERMINATED, '', {}} end
if ttl then
  ttl = clampTtl(ttl, ctl[4])
  if not ttl then return {NOT_FOUND, '', {}} end
  redis.call('PEXPIRE', key, ttl)
  return okReply(ctl[1], nil, ctl[3])
end
return ctl[1]
