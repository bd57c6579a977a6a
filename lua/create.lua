#!lua
-- create: bring a new session into existence. The only script that can.
--
-- KEYS[1]  session record key
-- ARGV[1]  op id (8 bytes): random per call; a re-sent call with the same op id
--          reports its first application instead of applying again
-- ARGV[2]  TTL in milliseconds (positive integer)
-- ARGV[3]  event channel ('' = publish nothing)
-- ARGV[4]  event command: 'PUBLISH' or 'SPUBLISH' ('' with no channel)
-- ARGV[5]  principal ('' = none), stored as field p
-- ARGV[6]  absolute lifetime in ms ('' = none): the session expires at the
--          latest at createdAt + lifetime (field d, server time)
-- ARGV[7..] metadata as field, value pairs, field names already 'm'-prefixed
--
-- Reply:
--   gen                        (integer) created with generation gen; its
--                              createdAt (field c) is floor(gen / 1000) ms
--   {REPLAYED, gen, {}}        this op id created it; gen is still current
--   {REPLAYED, gen, hash}      this op id created it, later writes followed;
--                              hash is the current record
--   {EXISTS, '', {}}           a live session has this id
--   {TERMINATED, '', {}}       a tombstone for this id has not expired yet
--
-- Generation: server time in microseconds. Every earlier incarnation of the
-- id is gone (expired, or tombstone expired), and its generations were at
-- most its last write's time (see clock), which is below now as long as the
-- server clock does not step back.
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
local ttl = parseTtl(ARGV[2])
local channel, command = parseEvents(ARGV[3], ARGV[4])
local principal = ARGV[5]
local lifetime = false
if ARGV[6] ~= '' then lifetime = parseTtl(ARGV[6]) end
checkPairs(ARGV, 7)
local nArgs = #ARGV

local ctl = redis.call('HMGET', key, 'g', 't', 'r')
if ctl[1] then
  if ctl[2] then return {TERMINATED, '', {}} end
  local ago = findOp(ctl[3], opId)
  if ago == 0 then return {REPLAYED, ctl[1], {}} end
  if ago then return {REPLAYED, ctl[1], redis.call('HGETALL', key)} end
  return {EXISTS, '', {}}
end

local gen = serverMicros()
checkAcl(key, AFTER_HSET, channel, command)
local genStr = fmt(gen)
local created = math.floor(gen / 1000)
-- One HSET for g, r, c and the first chunk of metadata; p and d (when the
-- session has them) in a second.
writeRecord(key, genStr, opId, ARGV, 7, nArgs, fmt(created))
if lifetime then
  if principal ~= '' then
    redis.call('HSET', key, 'p', principal, 'd', fmt(created + lifetime))
  else
    redis.call('HSET', key, 'd', fmt(created + lifetime))
  end
  if lifetime < ttl then ttl = lifetime end
elseif principal ~= '' then
  redis.call('HSET', key, 'p', principal)
end
redis.call('PEXPIRE', key, ttl)
if principal == '' then principal = nil end
publish(channel, command, 'created', genStr, key, principal)
return gen
