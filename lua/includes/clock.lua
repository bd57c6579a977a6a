-- Generations: create takes the server time in microseconds; every later
-- write adds 1. Integers below 2^53 are exact in Lua's doubles.

local function serverMicros()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

local function nextGeneration(gen)
  return gen + 1
end

-- Integers in full (never 1.7e+15); %d is exact below 2^53 on 64-bit builds.
local function fmt(n)
  return string.format('%d', n)
end
