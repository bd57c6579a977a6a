-- Argument parsing. Every check raises an error reply and runs before the
-- script's first write (Redis does not roll a script back).

local function fail(message)
  error(redis.error_reply('ERR session-cas: ' .. message))
end

-- s itself when it is a whole number in [1, 2^53) written in canonical
-- decimal, or nil. The pattern comes first: tonumber() alone also takes
-- 'inf', hex, exponents, fractions and surrounding spaces. No conversion
-- (tonumber costs the server more than the pattern): two such strings are
-- equal exactly when their numbers are, and server commands take them as
-- they are.
local function canonicalInt(s)
  if not string.find(s, '^[1-9]%d*$') then return nil end
  local n = #s
  if n < 16 or (n == 16 and s <= '9007199254740991') then return s end
  return nil
end

-- The same, as a number.
local function positiveInt(s)
  return canonicalInt(s) and tonumber(s)
end

local function parseTtl(s)
  return positiveInt(s) or fail('bad ttl argument')
end

-- A TTL kept as its decimal string (for PEXPIRE, and clampTtl).
local function parseTtlString(s)
  return canonicalInt(s) or fail('bad ttl argument')
end

-- A positive integer; with optional, '' means "any generation" (false).
local function parseExpected(s, optional)
  if optional and s == '' then return false end
  return positiveInt(s) or fail('bad expected generation')
end

-- The same, kept as its decimal string: compare it with the record's g
-- (canonical decimal too) as a string.
local function parseExpectedString(s, optional)
  if optional and s == '' then return false end
  return canonicalInt(s) or fail('bad expected generation')
end

-- A whole number in [0, 2^53) in canonical decimal.
local function parseCount(s, what)
  if s == '0' then return 0 end
  return positiveInt(s) or fail('bad ' .. what)
end

local OP_ID_LEN = 8

local function parseOpId(s)
  if #s ~= OP_ID_LEN then fail('bad op id') end
  return s
end

-- Metadata arguments come as field, value pairs from argv[from] on.
local function checkPairs(argv, from)
  if (#argv - from + 1) % 2 ~= 0 then fail('odd metadata argument count') end
end
