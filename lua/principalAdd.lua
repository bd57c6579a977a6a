#!lua
-- principalAdd: enter a session id in its principal's index, the first step
-- of a create with a principal (the index and the session live in different
-- Cluster slots, so this is a call of its own; see docs/principals.md).
--
-- KEYS[1]  principal index key (a sorted set: session id -> score)
-- ARGV[1]  session id (non-empty)
-- ARGV[2]  index TTL in milliseconds (positive integer): the index lives at
--          least this long from now (an existing longer TTL stays)
-- ARGV[3]  '1': enter the id as pending (negative score) until principalConfirm,
--          so a capped create can tell a create in flight from a session that
--          expired; '': enter it confirmed
--
-- Reply:
--   {OK, score, {}}   entered (or moved) with this score: server time in µs,
--                     above the absolute value of every other score of the
--                     index, so scores give the principal's creates one order
--                     on one clock (stored negated when pending)
--- @include "codes"
--- @include "args"
--- @include "clock"

local key = KEYS[1]
local id = ARGV[1]
if id == nil or id == '' then fail('bad session id') end
local ttl = parseTtl(ARGV[2])
local pending = ARGV[3] == '1'
if not pending and ARGV[3] ~= '' then fail('bad pending flag') end

local score = serverMicros()
local top = redis.call('ZRANGE', key, 0, 0, 'REV', 'WITHSCORES')
local bottom = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
if top[2] and tonumber(top[2]) >= score then score = tonumber(top[2]) + 1 end
if bottom[2] and -tonumber(bottom[2]) >= score then score = -tonumber(bottom[2]) + 1 end
if pending then redis.call('ZADD', key, -score, id) else redis.call('ZADD', key, score, id) end
local pttl = redis.call('PTTL', key)
if pttl < ttl then redis.call('PEXPIRE', key, ttl) end
return {OK, fmt(score), {}}
