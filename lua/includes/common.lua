-- Shared definitions, inlined by scripts/embed-lua.mjs wherever a script says
-- `--- @include "common"`. Mirrored in src/codes.ts; change both together.
--
-- Record layout: one hash per session id (KEYS[1]).
--   g        generation, decimal string (a positive integer below 2^53)
--   t        present ('1') only on a tombstone: the id was terminated
--   x        on a tombstone: the op id of the terminate that made it
--   o0..o7   ring of the op ids of the last 8 generation-changing writes;
--            slot (gen % 8) holds the op id that produced generation gen
--   m<name>  one field per metadata entry; the 'm' keeps names apart from
--            the control fields above, whatever the caller names them
-- A live record has g and no t. No key exists without a TTL.

local OK, REPLAYED = 1, 2
local CONFLICT, NOT_FOUND, TERMINATED, EXISTS, TOO_LARGE = -1, -2, -3, -4, -5
local RING = 8
local CHUNK = 2000 -- arguments per HSET/HDEL call, well below Lua's unpack limit

-- HMGET of the control fields: {g, t, x, o0, ..., o7}.
local function readControl(key)
  return redis.call('HMGET', key, 'g', 't', 'x', 'o0', 'o1', 'o2', 'o3', 'o4', 'o5', 'o6', 'o7')
end

-- Lua numbers are doubles: print integers in full, never as 1.7e+15.
local function fmt(n)
  return string.format('%.0f', n)
end

-- The generation an op id produced, if it is still in the ring, else nil.
-- Slot j holds the op of the newest generation <= gen that is j mod RING.
local function findOp(ctl, opId, gen)
  for j = 0, RING - 1 do
    if ctl[4 + j] == opId then
      return gen - ((gen - j) % RING)
    end
  end
  return nil
end

-- Flat field/value list of the ring, for rewriting it after DEL.
local function ringPairs(ctl)
  local out = {}
  for j = 0, RING - 1 do
    local v = ctl[4 + j]
    if v then
      out[#out + 1] = 'o' .. j
      out[#out + 1] = v
    end
  end
  return out
end

-- Calls cmd(key, ARGV[from..to]) in chunks; to - from + 1 must be even for HSET.
local function callChunked(cmd, key, args, from, to)
  for i = from, to, CHUNK do
    redis.call(cmd, key, unpack(args, i, math.min(i + CHUNK - 1, to)))
  end
end

local function parseTtl(s)
  local n = tonumber(s)
  if not n or n < 1 or n ~= math.floor(n) then
    return redis.error_reply('ERR session-cas: bad ttl argument')
  end
  return n
end

-- '' means "any generation"; anything else must be a positive integer.
local function parseExpected(s)
  if s == '' then return false end
  local n = tonumber(s)
  if not n or n < 1 or n ~= math.floor(n) then
    return nil
  end
  return n
end

local function publish(channel, kind, gen, id)
  if channel ~= '' then
    redis.call('PUBLISH', channel, kind .. ':' .. fmt(gen) .. ':' .. id)
  end
end

-- Redis checks a command's ACL permissions only when a script calls it, so a
-- refusal after the first write would leave that write applied while the
-- caller is told the script failed (Redis 7 ACL users start without channel
-- permissions, so PUBLISH is the likely one; a missing PEXPIRE would leave a
-- key without a TTL). Write scripts call this before their first write.
-- cmds: names from ACL_ARGS, checked on `key`; PUBLISH is checked on
-- `channel` unless it is ''. Returns an error reply, or nil when all allowed.
local ACL_ARGS = {DEL = {}, HDEL = {'m'}, HSET = {'g', '1'}, PEXPIRE = {'1'}, HGETALL = {}}
local function aclRefusal(key, cmds, channel)
  local refused = nil
  for i = 1, #cmds do
    if not redis.acl_check_cmd(cmds[i], key, unpack(ACL_ARGS[cmds[i]])) then
      refused = cmds[i]
      break
    end
  end
  if not refused and channel ~= '' and not redis.acl_check_cmd('PUBLISH', channel, 'x') then
    refused = 'PUBLISH'
  end
  if refused then
    return redis.error_reply('NOPERM session-cas: the ACL user may not run ' .. refused ..
      ' as this script needs; nothing was written')
  end
  return nil
end
