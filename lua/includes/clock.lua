-- Generations. A create takes the server time in microseconds; every later
-- write takes max(previous + 1, server time in microseconds). So a new
-- generation is strictly greater than any the id had on this server, and, as
-- long as the servers' clocks agree to within the time between two writes of
-- one session, greater than any a failed primary handed out for a write that
-- was lost with it (replication is asynchronous): a generation never names
-- two different contents, and a cache holding the lost write refetches.
-- Integers below 2^53 are exact in Lua's doubles (microseconds reach 2^53 in
-- the year 2255).

local function serverMicros()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- max(gen + 1, now) on decimal strings (gen canonical, as the record keeps
-- it): the server time needs no conversion to compare, and the result is the
-- string the record and the reply take. TIME gives seconds without leading
-- zeros and microseconds below 10^6.
local function nextGeneration(gen)
  local t = redis.call('TIME')
  local us = t[2]
  local now = t[1] .. string.rep('0', 6 - #us) .. us
  if #now > #gen or (#now == #gen and now > gen) then return now end
  return string.format('%d', tonumber(gen) + 1)
end

-- Integers in full (never 1.7e+15); %d is exact below 2^53 on 64-bit builds.
local function fmt(n)
  return string.format('%d', n)
end
