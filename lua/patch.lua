#!lua
-- patch: set and remove some metadata entries of a live session.
--
-- KEYS[1]  session record key
-- ARGV[1]  op id (see create.lua)
-- ARGV[2]  TTL in milliseconds (positive integer)
-- ARGV[3]  expected generation, or '' to apply to whatever generation is live
-- ARGV[4]  maximum UTF-8 bytes of all metadata names + values after the patch
-- ARGV[5]  event channel ('' = publish nothing)
-- ARGV[6]  session id, for the event payload
-- ARGV[7]  n: number of ARGV entries that are field, value pairs to set
-- ARGV[8 .. 7+n]     fields and values to set, field names 'm'-prefixed
-- ARGV[8+n .. #ARGV] fields to remove, 'm'-prefixed (disjoint from the set)
--
-- Reply: {code, generation, fields}
--   {OK, gen, hash}          applied; hash is the record after the patch
--   {REPLAYED, gen, hash}    this op id already applied at gen; hash is the
--                            record now (its g says whether it moved on)
--   {CONFLICT, gen, hash}    expected generation differs; hash is current
--   {NOT_FOUND, '', {}}      no record
--   {TERMINATED, '', {}}     tombstone
--   {TOO_LARGE, bytes, {}}   the result would exceed ARGV[4]; nothing written
--- @include "common"

local key = KEYS[1]
local opId = parseOpId(ARGV[1])
local ttl = parseTtl(ARGV[2])
local expected = parseExpected(ARGV[3], true)
local maxBytes = tonumber(ARGV[4])
local channel, id = ARGV[5], ARGV[6]
local nSet = tonumber(ARGV[7])
local nArgs = #ARGV
if not maxBytes or not nSet or nSet % 2 ~= 0 or 7 + nSet > nArgs then fail('bad patch arguments') end
local setTo = 7 + nSet

local ctl = readControl(key)
if not ctl[1] then return {NOT_FOUND, '', {}} end
local gen = tonumber(ctl[1])
local applied = findOp(ctl[4], opId, gen)
if applied then return {REPLAYED, fmt(applied), redis.call('HGETALL', key)} end
if ctl[2] then return {TERMINATED, '', {}} end
if expected and gen ~= expected then
  return {CONFLICT, ctl[1], redis.call('HGETALL', key)}
end

-- Size of the result: current entries minus touched ones plus the new values.
local touched = {}
local bytes = 0
for i = 8, setTo, 2 do
  touched[ARGV[i]] = true
  bytes = bytes + #ARGV[i] - 1 + #ARGV[i + 1]
end
for i = setTo + 1, nArgs do touched[ARGV[i]] = true end
local current = redis.call('HGETALL', key)
for i = 1, #current, 2 do
  local f = current[i]
  if string.byte(f, 1) == 109 and not touched[f] then -- 109 = 'm'
    bytes = bytes + #f - 1 + #current[i + 1]
  end
end
if bytes > maxBytes then return {TOO_LARGE, fmt(bytes), {}} end

local newGen = fmt(gen + 1)
checkAcl(key, {'HSET', 'PEXPIRE', 'HGETALL'}, channel)
if setTo < nArgs then callChunked('HDEL', key, setTo + 1, nArgs) end
writeRecord(key, newGen, pushOp(ctl[4], opId), 8, setTo)
redis.call('PEXPIRE', key, ttl)
publish(channel, 'updated', newGen, id)
return {OK, newGen, redis.call('HGETALL', key)}
