/**
 * The scripts check their own arguments before the first write, so a caller
 * that bypasses the TypeScript checks still cannot leave a half-written record
 * or a key without a TTL.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { RedisSessionStore, sessionKey } from '../../src/index.js';
import { callScript } from '../../src/scripts.js';
import type { ScriptName } from '../../src/generated/lua.js';
import { createClient, uniquePrefix } from '../support/clients.js';

const client = createClient(5);
afterAll(() => client.disconnect());
const prefix = uniquePrefix('lua-validation');
const store = new RedisSessionStore(client, { prefix });
const raw = client as unknown as { hgetall(k: string): Promise<Record<string, string>>; pttl(k: string): Promise<number> };

const cases: Array<[string, ScriptName, Array<string | number>, RegExp]> = [
  ['create: op id too short', 'create', ['op', '1000', '', '', 'ma', '1'], /bad op id/],
  ['update: op id too long', 'update', ['opid00012', '1000', '1', '', '', 'ma', '1'], /bad op id/],
  ['create: ttl not a number', 'create', ['opid0001', 'x', '', '', 'ma', '1'], /bad ttl/],
  ['create: ttl zero', 'create', ['opid0001', '0', '', '', 'ma', '1'], /bad ttl/],
  ['create: ttl fraction', 'create', ['opid0001', '1.5', '', '', 'ma', '1'], /bad ttl/],
  ['create: odd metadata', 'create', ['opid0001', '1000', '', '', 'ma'], /odd metadata/],
  ['update: no expected generation', 'update', ['opid0001', '1000', '', '', '', 'ma', '1'], /bad expected/],
  ['update: negative generation', 'update', ['opid0001', '1000', '-1', '', '', 'ma', '1'], /bad expected/],
  ['update: odd metadata', 'update', ['opid0001', '1000', '1', '', '', 'ma'], /odd metadata/],
  ['patch: bad ttl', 'patch', ['opid0001', '-5', '', '100', '', '', '0'], /bad ttl/],
  ['patch: set count beyond ARGV', 'patch', ['opid0001', '1000', '', '100', '', '', '4', 'ma', '1'], /bad patch/],
  ['patch: odd set count', 'patch', ['opid0001', '1000', '', '100', '', '', '1', 'ma'], /bad patch/],
  ['touch: bad expected', 'touch', ['1000', 'abc'], /bad expected/],
  ['terminate: bad ttl', 'terminate', ['opid0001', 'NaN', '', '', ''], /bad ttl/],
  ['get: ttl inf', 'get', ['inf'], /bad ttl/],
  ['touch: ttl 2^53', 'touch', ['9007199254740992', ''], /bad ttl/],
  ['terminate: expected nan', 'terminate', ['opid0001', '1000', 'nan', '', ''], /bad expected/],
];

describe('scripts validate before writing', () => {
  it.each(cases)('%s', async (_, script, args, message) => {
    const id = `v-${script}`;
    await store.create(id, { keep: 'me' }, { ttlMs: 60_000 });
    const before = await raw.hgetall(`${sessionKey(id, prefix)}`);
    await expect(callScript(client, script, sessionKey(id, prefix), args)).rejects.toThrow(message);
    expect(await raw.hgetall(sessionKey(id, prefix))).toEqual(before);
    const ttl = await raw.pttl(sessionKey(id, prefix));
    expect(ttl).toBeGreaterThan(0);
    // And on an absent id nothing comes into existence.
    const absent = sessionKey(`absent-${script}`, prefix);
    await expect(callScript(client, script, absent, args)).rejects.toThrow(message);
    expect(await raw.pttl(absent)).toBe(-2);
  });
});
