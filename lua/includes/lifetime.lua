--- @include "clock"
-- Principals and the absolute lifetime. Record fields (see record):
--   c  createdAt: server time in ms when create ran (decimal string)
--   p  the principal, when create named one
--   d  the deadline in server ms (c + the store's maxLifetimeMs), when the store has one
-- Every script that sets a session's TTL clamps it with clampTtl, so the key
-- never outlives d: the session expires at d whatever touches it.

local function serverMillis()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The TTL a write may give the session: ttl, or less so that the key expires
-- at the deadline; nil when the deadline has passed (the session is over:
-- its key expires at d, as every earlier TTL was clamped the same way).
-- ttl may be a number or its decimal string (returned as it came when no
-- deadline applies).
local function clampTtl(ttl, deadline)
  if not deadline then return ttl end
  local left = tonumber(deadline) - serverMillis()
  if left < 1 then return nil end
  if left < tonumber(ttl) then return left end
  return ttl
end

-- The reply of an applied write or a touch: one bulk string `<gen>`,
-- `<gen>:<c>` or `<gen>:<c>:<p>` (c may be '' when the caller does not need
-- it; p is last, so it may hold ':'). A string costs the server far less to
-- send than a nested table, and these are the hot paths' replies.
local function okReply(gen, created, principal)
  if principal then return gen .. ':' .. (created or '') .. ':' .. principal end
  if created then return gen .. ':' .. created end
  return gen
end

-- The c and p fields of a record as a flat field/value list for a reply (p only when set).
local function identity(created, principal)
  if not created then return {} end
  if principal then return {'c', created, 'p', principal} end
  return {'c', created}
end
