-- Shared definitions, inlined by scripts/embed-lua.mjs wherever a script says
-- `--- @include "common"`. Mirrored in src/codes.ts; change both together.
--
-- Record layout: one hash per session id (KEYS[1]).
--   g        generation, decimal string (a positive integer below 2^53)
--   t        present ('1') only on a tombstone: the id was terminated
--   x        on a tombstone: the op id of the terminate that made it
--   r        ring of the op ids of the last 8 generation-changing writes,
--            newest first, 8 bytes each: the op id at byte offset 8*i
--            produced generation g - i. One 64-byte field, so the hash keeps
--            Redis's compact listpack encoding (hash-max-listpack-value 64)
--            and a write rewrites one field, not eight
--   m<name>  one field per metadata entry; the 'm' keeps names apart from
--            the control fields above, whatever the caller names them
-- A live record has g and no t. No key exists without a TTL.

local OK, REPLAYED = 1, 2
local CONFLICT, NOT_FOUND, TERMINATED, EXISTS, TOO_LARGE = -1, -2, -3, -4, -5
local OP_ID_LEN = 8
local RING_BYTES = 8 * OP_ID_LEN
local CHUNK = 2000 -- arguments per HSET/HDEL call: even, and well below Lua's unpack limit

-- HMGET of the control fields: {g, t, x, r}.
local function readControl(key)
  return redis.call('HMGET', key, 'g', 't', 'x', 'r')
end

-- The generation and tombstone marker of a record read with HGETALL, so a
-- read needs one call. gen is nil when there is no record.
local function scanRecord(hash)
  local gen, tombstone = nil, false
  for i = 1, #hash, 2 do
    local f = hash[i]
    if f == 'g' then gen = hash[i + 1] elseif f == 't' then tombstone = true end
  end
  return gen, tombstone
end

-- Lua numbers are doubles: print integers in full, never as 1.7e+15.
local function fmt(n)
  return string.format('%.0f', n)
end

-- The generation an op id produced, if it is still in the ring, else nil.
local function findOp(ring, opId, gen)
  if not ring then return nil end
  local from = 1
  while true do
    local pos = string.find(ring, opId, from, true)
    if not pos then return nil end
    if (pos - 1) % OP_ID_LEN == 0 then return gen - (pos - 1) / OP_ID_LEN end
    from = pos + 1
  end
end

-- The ring after a write with this op id: newest first, oldest dropped.
local function pushOp(ring, opId)
  return opId .. string.sub(ring or '', 1, RING_BYTES - OP_ID_LEN)
end

-- Calls cmd(key, ARGV[from..to]) in chunks; to - from + 1 must be even for HSET.
local function callChunked(cmd, key, from, to)
  for i = from, to, CHUNK do
    redis.call(cmd, key, unpack(ARGV, i, math.min(i + CHUNK - 1, to)))
  end
end

-- Removes the metadata fields (m<name>) that the field/value pairs in
-- ARGV[from..to] do not set again (all of them when from > to), without ever
-- deleting the key. A script must not DEL a key it writes again: on a
-- cluster node whose slot is being migrated, a key that is missing for a
-- moment counts as moved away, Redis refuses the script's next call on it,
-- and the DEL stays applied (scripts do not roll back). g and r stay, so the
-- hash is never empty; names that are set again are overwritten, not deleted.
local function dropMetadataExcept(key, from, to)
  local keep = {}
  for i = from, to, 2 do keep[ARGV[i]] = true end
  local fields = redis.call('HKEYS', key)
  local drop = {}
  for i = 1, #fields do
    local f = fields[i]
    if string.byte(f, 1) == 109 and not keep[f] then drop[#drop + 1] = f end -- 109 = 'm'
  end
  for i = 1, #drop, CHUNK do
    redis.call('HDEL', key, unpack(drop, i, math.min(i + CHUNK - 1, #drop)))
  end
end

-- HSET g (a decimal string) and r, plus the field/value pairs ARGV[from..to], in as few calls as fit.
local function writeRecord(key, genStr, ring, from, to)
  local first = math.min(to, from + CHUNK - 1)
  redis.call('HSET', key, 'g', genStr, 'r', ring, unpack(ARGV, from, first))
  callChunked('HSET', key, first + 1, to)
end

-- Argument checks raise an error reply; they all run before any write.
local function fail(message)
  error(redis.error_reply('ERR session-cas: ' .. message))
end

local MAX_SAFE = 9007199254740991

-- A whole number in [1, 2^53), or nil. tonumber() also accepts 'inf', hex and exponents.
local function positiveInt(s)
  local n = tonumber(s)
  if not n or n < 1 or n > MAX_SAFE or n ~= math.floor(n) then return nil end
  return n
end

local function parseTtl(s)
  return positiveInt(s) or fail('bad ttl argument')
end

local function parseOpId(s)
  if #s ~= OP_ID_LEN then fail('bad op id') end
  return s
end

-- A positive integer; with optional, '' means "any generation" (false).
local function parseExpected(s, optional)
  if optional and s == '' then return false end
  return positiveInt(s) or fail('bad expected generation')
end

-- Metadata arguments come as field, value pairs from ARGV[from] on.
local function checkPairs(from)
  if (#ARGV - from + 1) % 2 ~= 0 then fail('odd metadata argument count') end
end

local function publish(channel, kind, genStr, id)
  if channel ~= '' then
    redis.call('PUBLISH', channel, kind .. ':' .. genStr .. ':' .. id)
  end
end

-- Redis checks a command's ACL permissions only when a script calls it, so a
-- refusal after the first write would leave that write applied while the
-- caller is told the script failed (Redis 7 ACL users start without channel
-- permissions, so PUBLISH is the likely one; a missing PEXPIRE would leave a
-- key without a TTL). Write scripts call this just before their first write,
-- naming every command that follows it; the first write itself needs no
-- check, since its refusal leaves nothing behind. PUBLISH is checked on
-- `channel` unless it is ''. Raises a NOPERM error reply.
local ACL_ARGS = {HSET = {'g', '1'}, PEXPIRE = {'1'}, HGETALL = {}}
local function checkAcl(key, cmds, channel)
  local refused
  for i = 1, #cmds do
    if not redis.acl_check_cmd(cmds[i], key, unpack(ACL_ARGS[cmds[i]])) then refused = cmds[i] break end
  end
  if not refused and channel ~= '' and not redis.acl_check_cmd('PUBLISH', channel, 'x') then refused = 'PUBLISH' end
  if refused then
    error(redis.error_reply('NOPERM session-cas: the ACL user may not run ' .. refused ..
      ' as this script needs; nothing was written'))
  end
end
