#!lua
-- patch: set and remove some metadata entries of a live session.
--
-- KEYS[1]  session record key
-- ARGV[1]  op id (see create.lua)
-- ARGV[2]  TTL in milliseconds (positive integer)
-- ARGV[3]  expected generation, or '' to apply to whatever generation is live
-- ARGV[4]  maximum UTF-8 bytes of all metadata names + values after the patch
--          (positive integer)
-- ARGV[5]  event channel ('' = publish nothing)
-- ARGV[6]  event command: 'PUBLISH' or 'SPUBLISH' ('' with no channel)
-- ARGV[7]  n: number of ARGV entries that are field, value pairs to set
--          (even, non-negative integer)
-- ARGV[8 .. 7+n]     fields and values to set, field names 'm'-prefixed
-- ARGV[8+n .. #ARGV] fields to remove, 'm'-prefixed (disjoint from the set)
--
-- Reply:
--   {OK, gen, hash}          applied; gen is the new generation and hash the
--                            record BEFORE the patch (the caller applies its
--                            own changes to it: no second read, no copy)
--   {REPLAYED, gen, hash}    this op id already applied; hash is the current
--                            record (its g says whether it moved on)
--   {CONFLICT, gen, hash}    expected generation differs; hash is current
--   {NOT_FOUND, '', {}}      no record
--   {TERMINATED, '', {}}     tombstone
--   {TOO_LARGE, bytes, {}}   the result would exceed ARGV[4]; nothing written
--   (the TTL is clamped to the deadline d, see lifetime; past it: NOT_FOUND)
--- @include "codes"
--- @include "args"
--- @include "ring"
--- @include "clock"
--- @include "record"
--- @include "acl"
--- @include "events"
--- @include "lifetime"

local key = KEYS[1]
local opId = parseOpId(ARGV[1])
local ttl = parseTtlString(ARGV[2])
local expected = parseExpectedString(ARGV[3], true)
local maxBytes = positiveInt(ARGV[4]) or fail('bad patch arguments: max bytes')
local channel, command = parseEvents(ARGV[5], ARGV[6])
local nSet = parseCount(ARGV[7], 'patch arguments: set count')
local nArgs = #ARGV
if nSet % 2 ~= 0 or 7 + nSet > nArgs then fail('bad patch arguments: set count') end
local setTo = 7 + nSet

local hash = redis.call('HGETALL', key)
if #hash == 0 then return {NOT_FOUND, '', {}} end
-- One pass over the record: its control fields, and the size of the entries
-- the patch leaves alone.
local touched = {}
local bytes = 0
for i = 8, setTo, 2 do
  touched[ARGV[i]] = true
  bytes = bytes + #ARGV[i] - 1 + #ARGV[i + 1]
end
for i = setTo + 1, nArgs do touched[ARGV[i]] = true end
local genStr, tombstone, ring, principal, deadline
for i = 1, #hash, 2 do
  local f = hash[i]
  if string.byte(f, 1) == M then
    if not touched[f] then bytes = bytes + #f - 1 + #hash[i + 1] end
  elseif f == 'g' then genStr = hash[i + 1]
  elseif f == 't' then tombstone = true
  elseif f == 'r' then ring = hash[i + 1]
  elseif f == 'p' then principal = hash[i + 1]
  elseif f == 'd' then deadline = hash[i + 1]
  end
end
if not genStr then return {NOT_FOUND, '', {}} end
if tombstone then return {TERMINATED, '', {}} end
if findOp(ring, opId) then return {REPLAYED, genStr, hash} end
if expected and genStr ~= expected then return {CONFLICT, genStr, hash} end
if bytes > maxBytes then return {TOO_LARGE, bytes, {}} end

ttl = clampTtl(ttl, deadline)
if not ttl then return {NOT_FOUND, '', {}} end

local newGenStr = nextGeneration(genStr)
checkAcl(key, AFTER_HSET, channel, command)
callChunked('HDEL', key, ARGV, setTo + 1, nArgs)
writeRecord(key, newGenStr, pushOp(ring, opId), ARGV, 8, setTo)
redis.call('PEXPIRE', key, ttl)
publish(channel, command, 'updated', newGenStr, key, principal)
return {OK, newGenStr, hash}
