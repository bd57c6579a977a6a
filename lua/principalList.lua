#!lua flags=no-writes
-- principalList: read a principal's index.
--
-- KEYS[1]  principal index key
-- ARGV     none
--
-- Reply:
--   {OK, now, {id, score, ...}}   now: server time in µs (the clock of the
--                                 scores); the entries, lowest score first
--- @include "codes"
--- @include "clock"

return {OK, fmt(serverMicros()), redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')}
