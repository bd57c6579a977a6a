/**
 * A re-sent write (same op id: what ioredis sends again after a reconnect)
 * reports its first application and never applies twice, while its op id is
 * among the last 8 generation-changing writes of the session. Calls the
 * functions directly so the re-send is exact; the fault suite does it through
 * a real dropped reply.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Code, decodeReply } from '../../src/redis/decode.js';
import { sessionKey } from '../../src/index.js';
import { callScriptRaw } from '../../src/redis/scripts.js';
import type { ScriptName } from '../../src/redis/generated/lua.js';
import { createClient, uniquePrefix } from '../infra/clients.js';

const client = createClient(5);
afterAll(() => client.disconnect());
const prefix = uniquePrefix('replay');
const TTL = '60000';
let n = 0;
const op = () => `op${String(++n).padStart(6, '0')}`; // 8 characters, like the store's op ids

async function call(script: ScriptName, id: string, args: string[]) {
  return decodeReply(await callScriptRaw(client, script, sessionKey(id, prefix), args));
}
const create = (id: string, opId: string) => call('create', id, [opId, TTL, '', '', '', '', 'ma', '1']);
const update = (id: string, opId: string, gen: number, v = 'x') =>
  call('update', id, [opId, TTL, String(gen), '', '', 'ma', v]);
const patch = (id: string, opId: string) => call('patch', id, [opId, TTL, '', '1000', '', '', '2', 'mp', opId]);
const terminate = (id: string, opId: string) => call('terminate', id, [opId, TTL, '', '', '']);
const peekGen = async (id: string) => {
  const r = await call('peek', id, []);
  return Number(r.fields[r.fields.indexOf('g') + 1]);
};

describe('re-sent writes apply once', () => {
  it('create: a re-send reports the first creation, not exists', async () => {
    const a = op();
    const first = await create('c', a);
    expect(first.code).toBe(Code.OK);
    const again = await create('c', a);
    expect(again).toEqual({ code: Code.REPLAYED, generation: first.generation, fields: [] });
    expect((await create('c', op())).code).toBe(Code.EXISTS);
  });

  it('create: a re-send after the session expired creates it again, with a higher generation', async () => {
    const a = op();
    const first = await call('create', 'ce', [a, '20', '', '', '', '', 'ma', '1']); // 20 ms TTL
    expect(first.code).toBe(Code.OK);
    await new Promise((r) => setTimeout(r, 60));
    const again = await create('ce', a);
    expect(again.code).toBe(Code.OK);
    expect(again.generation!).toBeGreaterThan(first.generation!);
  });

  it('create: a re-send after 8 later writes pushed its op id out reports exists', async () => {
    const a = op();
    let g = (await create('c8', a)).generation!;
    for (let i = 0; i < 7; i++) g = (await update('c8', op(), g)).generation!;
    expect((await create('c8', a)).code).toBe(Code.REPLAYED); // the oldest of the 8 remembered
    await update('c8', op(), g);
    expect((await create('c8', a)).code).toBe(Code.EXISTS);
  });

  it('create: a re-send after a terminate reports terminated (the session is gone), like any other create', async () => {
    const a = op();
    await create('ct', a);
    await terminate('ct', op());
    expect((await create('ct', a)).code).toBe(Code.TERMINATED);
    expect((await create('ct', op())).code).toBe(Code.TERMINATED);
  });

  it('update: a re-send reports its generation while it is current, the current record once later writes follow', async () => {
    const g0 = (await create('u', op())).generation!;
    const b = op();
    const applied = await update('u', b, g0, 'b');
    expect(applied.code).toBe(Code.OK);
    const g1 = applied.generation!;
    expect(g1).toBeGreaterThan(g0);
    // While current: its generation and the record's createdAt (c), no whole record.
    expect(await update('u', b, g0, 'b')).toEqual({
      code: Code.REPLAYED,
      generation: g1,
      fields: ['c', String(Math.floor(g0 / 1000))],
    });
    let g = g1;
    for (let i = 0; i < 7; i++) g = (await update('u', op(), g, `v${i}`)).generation!;
    // b is now the oldest of the 8 remembered ops: still recognised, and the reply is the current record.
    const late = await update('u', b, g0, 'b');
    expect(late.code).toBe(Code.REPLAYED);
    expect(late.generation).toBe(g);
    expect(late.fields).toContain('v6');
    expect(await peekGen('u')).toBe(g);
    g = (await update('u', op(), g)).generation!;
    // Pushed out: evaluated afresh, and its stale generation makes it a conflict, never a second apply.
    expect((await update('u', b, g0)).code).toBe(Code.CONFLICT);
    expect(await peekGen('u')).toBe(g);
  });

  it('patch: a re-send does not apply again; the reply carries the current record', async () => {
    const g0 = (await create('p', op())).generation!;
    const c = op();
    const first = await patch('p', c);
    expect(first.code).toBe(Code.OK);
    expect(first.generation).toBeGreaterThan(g0);
    const again = await patch('p', c);
    expect(again.code).toBe(Code.REPLAYED);
    expect(again.generation).toBe(first.generation);
    expect(again.fields).toContain(c);
    expect(await peekGen('p')).toBe(first.generation);
  });

  it('terminate: a re-send reports the termination; a re-sent earlier write finds the tombstone: terminated', async () => {
    const g0 = (await create('t', op())).generation!;
    const u = op();
    const g1 = (await update('t', u, g0)).generation!;
    const t = op();
    expect(await terminate('t', t)).toMatchObject({ code: Code.OK, generation: g1 });
    expect(await terminate('t', t)).toMatchObject({ code: Code.REPLAYED, generation: g1 });
    expect((await terminate('t', op())).code).toBe(Code.TERMINATED);
    // The update applied before the terminate, but the session is gone: the caller is told so.
    expect((await update('t', u, g0)).code).toBe(Code.TERMINATED);
    expect((await update('t', op(), g1)).code).toBe(Code.TERMINATED);
  });

  it('an op id only matches at an entry boundary of the ring', async () => {
    const g0 = (await create('b', 'AAAABBBB')).generation!;
    const g1 = (await update('b', 'CCCCDDDD', g0)).generation!;
    // The ring is now 'CCCCDDDD' + 'AAAABBBB': 'DDDDAAAA' occurs in it, straddling two entries, and must not match.
    const r = await update('b', 'DDDDAAAA', g1);
    expect(r.code).toBe(Code.OK);
    expect(await peekGen('b')).toBe(r.generation);
  });
});
