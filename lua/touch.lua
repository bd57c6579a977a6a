#!lua flags=allow-oom
-- touch: reset the TTL of a live session. Never changes the generation.
-- allow-oom: PEXPIRE does not grow memory, and refusing a keep-alive under
-- memory pressure would expire sessions that are in use.
--
-- KEYS[1]  session record key
-- ARGV[1]  TTL in milliseconds (positive integer)
-- ARGV[2]  expected generation, or '' for any
--
-- Reply:
--   '<gen>' or '<gen>::<p>'  (bulk string, see okReply in lifetime) TTL reset;
--                            gen is the current generation, p the principal
--   (the TTL is clamped to the deadline d, see lifetime; past it: NOT_FOUND)
--   {CONFLICT, gen, hash}    expected generation differs; hash is current
--   {NOT_FOUND, '', {}}      no record
--   {TERMINATED, '', {}}     tombstone
--- @include "codes"
--- @include "args"
--- @include "lifetime"

local key = KEYS[1]
local ttl = parseTtlString(ARGV[1])
local expected = parseExpectedString(ARGV[2], true)

local ctl = redis.call('HMGET', key, 'g', 't', 'p', 'd')
if not ctl[1] then return {NOT_FOUND, '', {}} end
if ctl[2] then return {TERMINATED, '', {}} end
if expected and ctl[1] ~= expected then
  return {CONFLICT, ctl[1], redis.call('HGETALL', key)}
end
ttl = clampTtl(ttl, ctl[4])
if not ttl then return {NOT_FOUND, '', {}} end
redis.call('PEXPIRE', key, ttl)
return okReply(ctl[1], nil, ctl[3])
