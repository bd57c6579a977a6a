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
--   gen                      (integer) TTL reset; gen is the current generation
--   {CONFLICT, gen, hash}    expected generation differs; hash is current
--   {NOT_FOUND, '', {}}      no record
--   {TERMINATED, '', {}}     tombstone
--- @include "codes"
--- @include "args"

local key = KEYS[1]
local ttl = parseTtl(ARGV[1])
local expected = parseExpected(ARGV[2], true)

local ctl = redis.call('HMGET', key, 'g', 't')
if not ctl[1] then return {NOT_FOUND, '', {}} end
if ctl[2] then return {TERMINATED, '', {}} end
local gen = tonumber(ctl[1])
if expected and gen ~= expected then
  return {CONFLICT, ctl[1], redis.call('HGETALL', key)}
end
redis.call('PEXPIRE', key, ttl)
return gen
