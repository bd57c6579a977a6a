/**
 * The scripts check their own arguments before the first write, so a caller
 * that bypasses the TypeScript checks still cannot leave a half-written record
 * or a key without a TTL.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { RedisSessionStore, sessionKey } from '../../src/index.js';
import { callScriptRaw } from '../../src/redis/scripts.js';
import type { ScriptName } from '../../src/redis/generated/lua.js';
import { createClient, uniquePrefix } from '../infra/clients.js';

const client = createClient(5);
afterAll(() => client.disconnect());
const prefix = uniquePrefix('lua-validation');
const store = new RedisSessionStore(client, { prefix });
const raw = client as unknown as {
  hgetall(k: string): Promise<Record<string, string>>;
  pttl(k: string): Promise<number>;
};

// Layouts (see lua/*.lua): create [op, ttl, channel, cmd, principal, lifetime, pairs...]; update [op, ttl, expected, channel, cmd, pairs...];
// patch [op, ttl, expected, maxBytes, channel, cmd, nSet, set..., remove...]; touch [ttl, expected];
// terminate [op, ttl, expected, channel, cmd]; get [ttl]; generation [ttl or ''].
const cases: Array<[string, ScriptName, Array<string | number>, RegExp]> = [
  ['create: op id too short', 'create', ['op', '1000', '', '', '', '', 'ma', '1'], /bad op id/],
  ['update: op id too long', 'update', ['opid00012', '1000', '1', '', '', 'ma', '1'], /bad op id/],
  ['create: ttl not a number', 'create', ['opid0001', 'x', '', '', '', '', 'ma', '1'], /bad ttl/],
  ['create: ttl zero', 'create', ['opid0001', '0', '', '', '', '', 'ma', '1'], /bad ttl/],
  ['create: ttl fraction', 'create', ['opid0001', '1.5', '', '', '', '', 'ma', '1'], /bad ttl/],
  ['create: ttl hex', 'create', ['opid0001', '0x10', '', '', '', '', 'ma', '1'], /bad ttl/],
  ['create: ttl exponent', 'create', ['opid0001', '1e3', '', '', '', '', 'ma', '1'], /bad ttl/],
  ['create: ttl with spaces', 'create', ['opid0001', ' 1000 ', '', '', '', '', 'ma', '1'], /bad ttl/],
  ['create: ttl leading zero', 'create', ['opid0001', '01000', '', '', '', '', 'ma', '1'], /bad ttl/],
  ['create: odd metadata', 'create', ['opid0001', '1000', '', '', '', '', 'ma'], /odd metadata/],
  ['create: channel without command', 'create', ['opid0001', '1000', 'chan', '', '', '', 'ma', '1'], /bad event/],
  [
    'create: command other than PUBLISH/SPUBLISH',
    'create',
    ['opid0001', '1000', 'chan', 'DEL', '', '', 'ma', '1'],
    /bad event/,
  ],
  ['create: command without channel', 'create', ['opid0001', '1000', '', 'PUBLISH', '', '', 'ma', '1'], /bad event/],
  ['update: no expected generation', 'update', ['opid0001', '1000', '', '', '', 'ma', '1'], /bad expected/],
  ['update: negative generation', 'update', ['opid0001', '1000', '-1', '', '', 'ma', '1'], /bad expected/],
  ['update: generation inf', 'update', ['opid0001', '1000', 'inf', '', '', 'ma', '1'], /bad expected/],
  ['update: generation 2^53', 'update', ['opid0001', '1000', '9007199254740992', '', '', 'ma', '1'], /bad expected/],
  ['update: ttl 2^53', 'update', ['opid0001', '9007199254740992', '1', '', '', 'ma', '1'], /bad ttl/],
  ['update: ttl of 17 digits', 'update', ['opid0001', '10000000000000000', '1', '', '', 'ma', '1'], /bad ttl/],
  ['update: ttl with a plus sign', 'update', ['opid0001', '+1000', '1', '', '', 'ma', '1'], /bad ttl/],
  ['update: generation 10e2', 'update', ['opid0001', '1000', '10e2', '', '', 'ma', '1'], /bad expected/],
  [
    'update: generation with a trailing dot',
    'update',
    ['opid0001', '1000', '1000.', '', '', 'ma', '1'],
    /bad expected/,
  ],
  ['update: odd metadata', 'update', ['opid0001', '1000', '1', '', '', 'ma'], /odd metadata/],
  ['patch: bad ttl', 'patch', ['opid0001', '-5', '', '100', '', '', '0'], /bad ttl/],
  ['patch: set count beyond ARGV', 'patch', ['opid0001', '1000', '', '100', '', '', '4', 'ma', '1'], /bad patch/],
  ['patch: odd set count', 'patch', ['opid0001', '1000', '', '100', '', '', '1', 'ma'], /bad patch/],
  [
    'patch: negative set count with cap inf',
    'patch',
    ['opid0001', '1000', '', 'inf', '', '', '-2', 'mkeep'],
    /bad patch/,
  ],
  ['patch: negative set count', 'patch', ['opid0001', '1000', '', '100', '', '', '-2', 'mkeep'], /bad patch/],
  ['patch: set count as hex', 'patch', ['opid0001', '1000', '', '100', '', '', '0x2', 'ma', '1'], /bad patch/],
  ['patch: set count fraction', 'patch', ['opid0001', '1000', '', '100', '', '', '2.0', 'ma', '1'], /bad patch/],
  ['patch: max bytes inf', 'patch', ['opid0001', '1000', '', 'inf', '', '', '2', 'ma', '1'], /bad patch/],
  ['patch: max bytes zero', 'patch', ['opid0001', '1000', '', '0', '', '', '2', 'ma', '1'], /bad patch/],
  ['patch: max bytes exponent', 'patch', ['opid0001', '1000', '', '1e9', '', '', '2', 'ma', '1'], /bad patch/],
  [
    'patch: expected generation with a space',
    'patch',
    ['opid0001', '1000', ' 1', '100', '', '', '2', 'ma', '1'],
    /bad expected/,
  ],
  ['touch: bad expected', 'touch', ['1000', 'abc'], /bad expected/],
  ['touch: ttl 2^53', 'touch', ['9007199254740992', ''], /bad ttl/],
  ['touch: ttl negative', 'touch', ['-1000', ''], /bad ttl/],
  ['terminate: bad ttl', 'terminate', ['opid0001', 'NaN', '', '', ''], /bad ttl/],
  ['terminate: expected nan', 'terminate', ['opid0001', '1000', 'nan', '', ''], /bad expected/],
  ['terminate: bad event command', 'terminate', ['opid0001', '1000', '', 'chan', 'publish'], /bad event/],
  ['get: ttl inf', 'get', ['inf'], /bad ttl/],
  ['get: ttl hex', 'get', ['0x1f'], /bad ttl/],
  ['generation: ttl fraction', 'generation', ['10.5'], /bad ttl/],
  ['create: lifetime fraction', 'create', ['opid0001', '1000', '', '', 'p', '1.5', 'ma', '1'], /bad ttl/],
  ['create: lifetime zero', 'create', ['opid0001', '1000', '', '', 'p', '0', 'ma', '1'], /bad ttl/],
  ['principalAdd: empty id', 'principalAdd', ['', '1000'], /bad session id/],
  ['principalAdd: bad ttl', 'principalAdd', ['s', '-1'], /bad ttl/],
  ['principalDrop: odd entries', 'principalDrop', ['s'], /odd index entry/],
  ['principalKeep: bad min', 'principalKeep', ['x', '1000'], /bad ttl/],
  ['principalKeep: bad set', 'principalKeep', ['1000', '1e3'], /bad ttl/],
];

describe('functions validate every argument before writing', () => {
  it.each(cases)('%s', async (_, script, args, message) => {
    const id = `v-${script}`;
    await store.create(id, { keep: 'me' }, { ttlMs: 60_000 });
    const before = await raw.hgetall(`${sessionKey(id, prefix)}`);
    await expect(callScriptRaw(client, script, sessionKey(id, prefix), args)).rejects.toThrow(message);
    expect(await raw.hgetall(sessionKey(id, prefix))).toEqual(before);
    const ttl = await raw.pttl(sessionKey(id, prefix));
    expect(ttl).toBeGreaterThan(0);
    // And on an absent id nothing comes into existence.
    const absent = sessionKey(`absent-${script}`, prefix);
    await expect(callScriptRaw(client, script, absent, args)).rejects.toThrow(message);
    expect(await raw.pttl(absent)).toBe(-2);
  });
});
