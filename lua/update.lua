#!lua
-- update: replace all metadata of a live session whose generation matches.
--
-- KEYS[1]  session record key
-- ARGV[1]  op id (see create.lua)
-- ARGV[2]  TTL in milliseconds (positive integer)
-- ARGV[3]  expected generation (positive integer)
-- ARGV[4]  event channel ('' = publish nothing)
-- ARGV[5]  event command: 'PUBLISH' or 'SPUBLISH' ('' with no channel)
-- ARGV[6..] new metadata as field, value pairs, field names 'm'-prefixed
--
-- Reply:
--   '<gen>[:<c>[:<p>]]'        (bulk string) applied; gen is the new generation,
--                              c and p those of the record (see okReply in
--                              lifetime; a record of 0.1 has no c)
--   {REPLAYED, gen, {'c', c[, 'p', p]}}  this op id made the current generation gen
--   (the TTL is clamped to the deadline d; past it: NOT_FOUND, nothing written)
--   {REPLAYED, gen, hash}      this op id applied, later writes followed;
--                              hash is the current record
--   {CONFLICT, gen, hash}      generation differs; hash is the current record
--   {NOT_FOUND, '', {}}        no record (never created, or expired)
--   {TERMINATED, '', {}}       tombstone (also when this op id applied before
--                              the terminate: the session is gone either way)
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
local expected = parseExpectedString(ARGV[3], false)
local channel, command = parseEvents(ARGV[4], ARGV[5])
checkPairs(ARGV, 6)
local nArgs = #ARGV

-- ctl: g, r, c, p, d. A live record of this version has c and a tombstone
-- never has it, so t is read only when c is missing (a tombstone, or a
-- record written by 0.1).
local ctl = redis.call('HMGET', key, 'g', 'r', 'c', 'p', 'd')
local genStr = ctl[1]
if not genStr then return {NOT_FOUND, '', {}} end
if not ctl[3] and redis.call('HEXISTS', key, 't') == 1 then return {TERMINATED, '', {}} end
local ago = findOp(ctl[2], opId)
if ago == 0 then return {REPLAYED, genStr, identity(ctl[3], ctl[4])} end
if ago then return {REPLAYED, genStr, redis.call('HGETALL', key)} end
if genStr ~= expected then return {CONFLICT, genStr, redis.call('HGETALL', key)} end

ttl = clampTtl(ttl, ctl[5])
if not ttl then return {NOT_FOUND, '', {}} end

local newGenStr = nextGeneration(genStr)
checkAcl(key, AFTER_HDEL, channel, command)
writeRecord(key, newGenStr, pushOp(ctl[2], opId), ARGV, 6, nArgs)
-- A live record is g, r, those of c, p, d it has, and its metadata: any field
-- beyond those the update just wrote is an old name it does not set again.
-- HLEN is O(1), so an update that keeps the names (the common case) never
-- lists the hash.
local control = 2
for i = 3, 5 do if ctl[i] then control = control + 1 end end
if redis.call('HLEN', key) > control + (nArgs - 5) / 2 then dropMetadataExcept(key, ARGV, 6, nArgs) end
redis.call('PEXPIRE', key, ttl)
publish(channel, command, 'updated', newGenStr, key, ctl[4])
return okReply(newGenStr, ctl[3], ctl[4])
