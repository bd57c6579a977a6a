#!lua
-- create: bring a new session into existence. The only script that can.
--
-- KEYS[1]  session record key
-- ARGV[1]  op id (8 bytes): random per call; a re-sent call with the same op id
--          reports its first application instead of applying again
-- ARGV[2]  TTL in milliseconds (positive integer)
-- ARGV[3]  event channel ('' = publish nothing)
-- ARGV[4]  session id, for the event payload ('' when ARGV[3] is '')
-- ARGV[5..] metadata as field, value pairs, field names already 'm'-prefixed
--
-- Reply: {code, generation, {}}
--   {OK, gen, {}}          created with generation gen
--   {REPLAYED, gen, {}}    this op id already created it at gen
--   {EXISTS, '', {}}       a live session has this id
--   {TERMINATED, '', {}}   a tombstone for this id has not expired yet
--
-- Generation: server time in microseconds. Every earlier incarnation of the
-- id is gone (expired, or tombstone expired), and its generations were at
-- most its creation time plus its number of writes, which is below now as
-- long as the server clock does not step back and one key does not take
-- more than one write per microsecond.
--- @include "common"

local key = KEYS[1]
local opId = parseOpId(ARGV[1])
local ttl = parseTtl(ARGV[2])
local channel, id = ARGV[3], ARGV[4]
checkPairs(5)
local nArgs = #ARGV

local ctl = readControl(key)
if ctl[1] then
  local applied = findOp(ctl[4], opId, tonumber(ctl[1]))
  if applied then return {REPLAYED, fmt(applied), {}} end
  if ctl[2] then return {TERMINATED, '', {}} end
  return {EXISTS, '', {}}
end

local now = redis.call('TIME')
local gen = fmt(tonumber(now[1]) * 1000000 + tonumber(now[2]))
checkAcl(key, {'PEXPIRE'}, channel)

writeRecord(key, gen, opId, 5, nArgs)
redis.call('PEXPIRE', key, ttl)
publish(channel, 'created', gen, id)
return {OK, gen, {}}
