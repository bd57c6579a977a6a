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

-- Calls cmd(key, ARGV[from..to]) in chunks; to - from + 1 must be even for HSET.
local function callChunked(cmd, key, args, from, to)
  for i = from, to, CHUNK do
    redis.call(cmd, key, unpack(args, i, math.min(i + CHUNK - 1, to)))
  end
end

-- Control fields a live record keeps across an update: g and the op-id ring.
local KEEP = {g = true}
for j = 0, RING - 1 do KEEP['o' .. j] = true end

-- Removes every field of the record except g and the op-id ring, without
-- ever deleting the key. A script must not DEL a key it writes again: on a
-- cluster node whose slot is being migrated, a key that is missing for a
-- moment counts as moved away, Redis refuses the script's next call on it,
-- and the DEL stays applied (scripts do not roll back).
local function clearAllButControl(key)
  local fields = redis.call('HKEYS', key)
  local drop = {}
  for i = 1, #fields do
    if not KEEP[fields[i]] then drop[#drop + 1] = fields[i] end
  end
  if #drop > 0 then callChunked('HDEL', key, drop, 1, #drop) end
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
