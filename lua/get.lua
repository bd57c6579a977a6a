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
local ttl = parseTtlString(ARGV[1])

local hash = redis.call('HGETALL', key)
if #hash == 0 then return {NOT_FOUND, '', {}} end
if isTombstone(hash) then return {TERMINATED, '', {}} end
-- The deadline d: looked up in the hash already read when it is small (a
-- few steps), with HGET otherwise.
local deadline
local n = #hash
if n <= 24 then
  for i = 1, n, 2 do
    if hash[i] == 'd' then deadline = hash[i + 1] break end
  end
else
  deadline = redis.call('HGET', key, 'd') or nil
end
ttl = clampTtl(ttl, deadline)
if not ttl then return {NOT_FOUND, '', {}} end
redis.call('PEXPIRE', key, ttl)
return hash
