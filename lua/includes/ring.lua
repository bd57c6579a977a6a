--- @include "args"
-- The op-id ring (field r): the op ids of the last 8 generation-changing
-- writes, newest first, 8 bytes each, in one 64-byte field so the hash keeps
-- Redis's compact listpack encoding (hash-max-listpack-value 64) and a write
-- rewrites one field, not eight. Generations are not consecutive (see
-- clock), so the ring says only whether, and how many writes ago, an op id
-- applied: 0 means it produced the current generation.
local RING_BYTES = 8 * OP_ID_LEN

-- How many writes ago the op id applied (0: it made the current generation), or nil.
local function findOp(ring, opId)
  if not ring then return nil end
  local from = 1
  while true do
    local pos = string.find(ring, opId, from, true)
    if not pos then return nil end
    if (pos - 1) % OP_ID_LEN == 0 then return (pos - 1) / OP_ID_LEN end
    from = pos + 1
  end
end

-- The ring after a write with this op id: newest first, oldest dropped.
local function pushOp(ring, opId)
  return opId .. string.sub(ring or '', 1, RING_BYTES - OP_ID_LEN)
end
