#!lua
-- update: replace all metadata of a live session whose generation matches.
--
-- KEYS[1]  session record key
-- ARGV[1]  op id (see create.lua)
-- ARGV[2]  TTL in milliseconds (positive integer)
-- ARGV[3]  expected generation (positive integer)
-- ARGV[4]  event channel ('' = publish nothing)
-- ARGV[5]  session id, for the event payload
-- ARGV[6..] new metadata as field, value pairs, field names 'm'-prefixed
--
-- Reply: {code, generation, fields}
--   {OK, gen, {}}            applied; gen is the new generation
--   {REPLAYED, gen, {}}      this op id already applied, producing gen
--   {CONFLICT, gen, hash}    generation differs; hash is the current record
--   {NOT_FOUND, '', {}}      no record (never created, or expired)
--   {TERMINATED, '', {}}     tombstone
--- @include "common"

local key = KEYS[1]
local opId = parseOpId(ARGV[1])
local ttl = parseTtl(ARGV[2])
local expected = parseExpected(ARGV[3], false)
local channel, id = ARGV[4], ARGV[5]
checkPairs(6)
local nArgs = #ARGV

local ctl = readControl(key)
if not ctl[1] then return {NOT_FOUND, '', {}} end
local gen = tonumber(ctl[1])
local applied = findOp(ctl[4], opId, gen)
if applied then return {REPLAYED, fmt(applied), {}} end
if ctl[2] then return {TERMINATED, '', {}} end
if gen ~= expected then
  return {CONFLICT, ctl[1], redis.call('HGETALL', key)}
end

local newGen = fmt(gen + 1)
checkAcl(key, {'HSET', 'PEXPIRE'}, channel)
dropMetadataExcept(key, 6, nArgs)
writeRecord(key, newGen, pushOp(ctl[4], opId), 6, nArgs)
redis.call('PEXPIRE', key, ttl)
publish(channel, 'updated', newGen, id)
return {OK, newGen, {}}
