-- Redis checks a command's ACL permissions only when a script calls it, so a
-- refusal after the first write would leave that write applied while the
-- caller is told the script failed (Redis 7 ACL users start without channel
-- permissions, so PUBLISH is the likely one; a missing PEXPIRE would leave a
-- key without a TTL). Write scripts call this just before their first write,
-- naming every command that follows it; the first write itself needs no
-- check, since its refusal leaves nothing behind. The publish command is
-- checked on `channel` unless it is ''. Raises a NOPERM error reply.
local ACL_ARGS = {HSET = {'g', '1'}, HDEL = {'g'}, PEXPIRE = {'1'}}
-- The command lists the write functions check, built once when the library loads.
local AFTER_HSET = {'HSET', 'PEXPIRE'}
local AFTER_HDEL = {'HDEL', 'PEXPIRE'}
local AFTER_ALL = {'HSET', 'HDEL', 'PEXPIRE'}

local function checkAcl(key, cmds, channel, command)
  local refused
  for i = 1, #cmds do
    if not redis.acl_check_cmd(cmds[i], key, unpack(ACL_ARGS[cmds[i]])) then refused = cmds[i] break end
  end
  if not refused and channel ~= '' and not redis.acl_check_cmd(command, channel, 'x') then refused = command end
  if refused then
    error(redis.error_reply('NOPERM session-cas: the ACL user may not run ' .. refused ..
      ' as this script needs; nothing was written'))
  end
end
