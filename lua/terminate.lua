#!lua flags=allow-oom
-- terminate: turn a live session into a tombstone that remembers its last
-- generation, so no write and no create can bring the id back before the
-- tombstone expires.
-- allow-oom: a logout must never be refused for lack of memory; dropping the
-- metadata frees more than the tombstone's few fields take.
--
-- KEYS[1]  session record key
-- ARGV[1]  op id (see create.lua)
-- ARGV[2]  tombstone TTL in milliseconds (positive integer)
-- ARGV[3]  expected generation, or '' for any
-- ARGV[4]  event channel ('' = publish nothing)
-- ARGV[5]  event command: 'PUBLISH' or 'SPUBLISH' ('' with no channel)
--
-- Reply:
--   '<gen>'                  (bulk string) terminated; gen is the last generation it had
--   {REPLAYED, gen, {}}      this op id already terminated it
--   {CONFLICT, gen, hash}    expected generation differs; hash is current
--   {NOT_FOUND, '', {}}      no record
--   {TERMINATED, '', {}}     already a tombstone (another terminate)
-- The tombstone drops c, p and d with the metadata; the event names the principal.
--- @include "codes"
--- @include "args"
--- @include "record"
--- @include "acl"
--- @include "events"

local key = KEYS[1]
local opId = parseOpId(ARGV[1])
local ttl = parseTtlString(ARGV[2])
local expected = parseExpectedString(ARGV[3], true)
local channel, command = parseEvents(ARGV[4], ARGV[5])

local ctl = redis.call('HMGET', key, 'g', 't', 'x', 'p')
if not ctl[1] then return {NOT_FOUND, '', {}} end
if ctl[2] then
  if ctl[3] == opId then return {REPLAYED, ctl[1], {}} end
  return {TERMINATED, '', {}}
end
if expected and ctl[1] ~= expected then
  return {CONFLICT, ctl[1], redis.call('HGETALL', key)}
end

checkAcl(key, AFTER_ALL, channel, command)
-- A tombstone holds g, r, t, x only (see isTombstone): one HDEL of every
-- other field (the metadata and c, p, d), first, so the memory is freed
-- before the tombstone fields are added. g and r stay: the key never goes.
dropAllBut(key, 'g', 'r')
redis.call('HSET', key, 't', '1', 'x', opId)
redis.call('PEXPIRE', key, ttl)
publish(channel, command, 'terminated', ctl[1], key, ctl[4])
return ctl[1]
