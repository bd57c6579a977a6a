-- Reply codes: the source of truth. scripts/embed-lua.mjs reads every line of
-- the form `local NAME = <integer>` below and generates the TypeScript `Code`
-- record from it, so the two cannot drift apart.
local OK = 1
local REPLAYED = 2
local CONFLICT = -1
local NOT_FOUND = -2
local TERMINATED = -3
local EXISTS = -4
local TOO_LARGE = -5
