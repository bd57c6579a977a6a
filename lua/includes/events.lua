--- @include "args"
-- Change events. Payload `<kind>:<generation>:<key>`, followed by
-- `:p<principal>` when the session has a principal: the key as the server
-- sees it (client keyPrefix + store prefix + {encoded id}:s), so a subscriber
-- can tell its own namespace's events from those of another store sharing
-- the channel. On a single node the channel is the store's eventsChannel and
-- the command PUBLISH; on a Cluster it is the shard channel of the key's slot
-- and the command SPUBLISH (no broadcast over the cluster bus).

-- The event channel and command from two arguments: ('', '') publishes nothing.
local function parseEvents(channel, command)
  if channel == '' then
    if command ~= '' then fail('bad event arguments') end
    return '', ''
  end
  if command ~= 'PUBLISH' and command ~= 'SPUBLISH' then fail('bad event arguments') end
  return channel, command
end

local function publish(channel, command, kind, gen, key, principal)
  if channel ~= '' then
    local message = kind .. ':' .. gen .. ':' .. key
    if principal then message = message .. ':p' .. principal end
    redis.call(command, channel, message)
  end
end
