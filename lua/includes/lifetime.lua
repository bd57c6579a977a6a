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
local function clampTtl(ttl, deadline)
  if not deadline then return ttl end
  local left = tonumber(deadline) - serverMillis()
  if left < 1 then return nil end
  if left < ttl then return left end
  return ttl
end

-- The c and p fields of a record as a flat field/value list for a reply (p only when set).
local function identity(created, principal)
  if not created then return {} end
  if principal then return {'c', created, 'p', principal} end
  return {'c', created}
end
