-- Record layout: one hash per session id (KEYS[1]).
--   g        generation, decimal string (a positive integer below 2^53)
--   t        present ('1') only on a tombstone: the id was terminated
--   x        on a tombstone: the op id of the terminate that made it
--   r        the op-id ring (see ring)
--   c, p, d  createdAt, principal, deadline of a live record (see lifetime)
--   m<name>  one field per metadata entry; the 'm' keeps names apart from
--            the control fields above, whatever the caller names them
-- A live record has g, r and c and no t; a tombstone has none of c, p, d.
-- No key exists without a TTL.
local CHUNK = 2000 -- arguments per HSET/HDEL call: even, and well below Lua's unpack limit
local M = 109      -- string.byte('m')

-- Calls cmd(key, list[from..to]) in chunks; to - from + 1 must be even for HSET.
local function callChunked(cmd, key, list, from, to)
  for i = from, to, CHUNK do
    redis.call(cmd, key, unpack(list, i, math.min(i + CHUNK - 1, to)))
  end
end

-- HSET g, r (and c, when created is given) and the field/value pairs
-- argv[from..to], in as few calls as fit.
local function writeRecord(key, gen, ring, argv, from, to, created)
  local first = math.min(to, from + CHUNK - 1)
  if created then
    redis.call('HSET', key, 'g', gen, 'r', ring, 'c', created, unpack(argv, from, first))
  else
    redis.call('HSET', key, 'g', gen, 'r', ring, unpack(argv, from, first))
  end
  callChunked('HSET', key, argv, first + 1, to)
end

-- Removes the metadata fields (m<name>) that the field/value pairs in
-- argv[from..to] do not set (all of them when from > to), without ever
-- deleting the key. A script must not DEL a key it writes again: on a
-- cluster node whose slot is being migrated, a key that is missing for a
-- moment counts as moved away, Redis refuses the script's next call on it,
-- and the DEL stays applied (scripts do not roll back). g and r stay, so the
-- hash is never empty.
local function dropMetadataExcept(key, argv, from, to)
  local keep = {}
  for i = from, to, 2 do keep[argv[i]] = true end
  local fields = redis.call('HKEYS', key)
  local drop = {}
  for i = 1, #fields do
    local f = fields[i]
    if string.byte(f, 1) == M and not keep[f] then drop[#drop + 1] = f end
  end
  callChunked('HDEL', key, drop, 1, #drop)
end

-- Removes every field but the two named, in one HDEL per chunk.
local function dropAllBut(key, keep1, keep2)
  local fields = redis.call('HKEYS', key)
  local drop = {}
  local n = 0
  for i = 1, #fields do
    local f = fields[i]
    if f ~= keep1 and f ~= keep2 then
      n = n + 1
      drop[n] = f
    end
  end
  callChunked('HDEL', key, drop, 1, n)
end

-- Whether a record read with HGETALL is a tombstone. A tombstone holds g, r,
-- t and x and nothing else (terminate drops every metadata field), so a
-- record with more than four fields is live without looking at its names,
-- and the scan stays four steps long for any session size.
local function isTombstone(hash)
  if #hash > 8 then return false end
  for i = 1, #hash, 2 do
    if hash[i] == 't' then return true end
  end
  return false
end
