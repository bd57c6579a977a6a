/**
 * Issue #12, finding 4, as two nodes see it: node A's write reaches Redis and
 * applies, its reply is lost, and before ioredis re-sends it (after the
 * reconnect) node B writes the same session on its own connection. The
 * re-sent write must report what the session is now: `terminated` when B
 * terminated it (before the fix: `ok`, and for `patch` a session made of the
 * patch's own entries alone), the current record when B wrote over it
 * (before: A's own metadata at the generation A made).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { RedisSessionStore, type Session } from '../../src/index.js';
import type { Client } from '../../src/redis/scripts.js';
import { type IoredisMajor, createClient, uniquePrefix } from '../infra/clients.js';
import { rawRecord, scriptRuns, settled, useProxiedServer } from './fault-harness.js';

const env = useProxiedServer();

describe.each([5, 6] as IoredisMajor[])('a re-sent write that another node overtook (ioredis %i)', (major) => {
  const clients: Client[] = [];
  const prefix = uniquePrefix(`overtaken-${major}`);
  afterAll(() => {
    for (const c of clients) c.disconnect();
  });
  /** A behind the proxy (its replies can be lost), B direct. */
  async function nodes() {
    const a = createClient(major, env.proxy.url, { maxRetriesPerRequest: 5 });
    const b = createClient(major, env.server.url);
    clients.push(a, b);
    const A = new RedisSessionStore(a, { prefix });
    const B = new RedisSessionStore(b, { prefix });
    await A.exists('warm-up'); // connected, library loaded
    return { A, B };
  }
  async function created(store: RedisSessionStore, id: string): Promise<Session> {
    const r = await store.create(id, { n: '0', keep: 'k' });
    if (!r.ok) throw new Error(`create ${id}: ${JSON.stringify(r)}`);
    return r.session;
  }
  /**
   * Runs `write` on A with its reply dropped; once Redis has run it, runs `between` on B,
   * then resets A's connection so ioredis re-sends the write. Returns A's result.
   */
  async function lostReply<T>(write: () => Promise<T>, between: () => Promise<void>): Promise<T> {
    const runs = await scriptRuns(env.admin);
    const dropped = env.proxy.stats.replyBytesDropped;
    env.proxy.setMode('drop-reply');
    const call = write();
    await env.proxy.waitFor((s) => s.replyBytesDropped > dropped);
    expect(await scriptRuns(env.admin)).toBe(runs + 1); // it applied on Redis
    await between();
    env.proxy.setMode('pass');
    env.proxy.resetConnections();
    const r = await settled(call);
    if ('error' in r) throw r.error as Error;
    expect(await scriptRuns(env.admin)).toBeGreaterThanOrEqual(runs + 3); // A's re-send ran (B's write in between)
    return r.value;
  }

  it('patch, then B terminates: the re-send reports terminated, and the tombstone stays', async () => {
    const { A, B } = await nodes();
    const id = `p-t-${Math.random().toString(36).slice(2)}`;
    await created(B, id);
    const r = await lostReply(
      () => A.patch(id, { set: { n: 'A' } }),
      async () => {
        expect(await B.terminate(id)).toMatchObject({ ok: true });
      },
    );
    expect(r).toEqual({ ok: false, reason: 'terminated' });
    expect(await B.peek(id)).toBeNull();
    const raw = await rawRecord(env.admin, B.keyFor(id));
    expect(raw.fields.t).toBe('1');
    expect(raw.fields.mn).toBeUndefined();
  });

  it("patch, then B updates: the re-send reports the current record (B's), not the patch's entries", async () => {
    const { A, B } = await nodes();
    const id = `p-u-${Math.random().toString(36).slice(2)}`;
    await created(B, id);
    let byB: Session | undefined;
    const r = await lostReply(
      () => A.patch(id, { set: { n: 'A' } }),
      async () => {
        const cur = await B.peek(id);
        expect(cur?.metadata).toEqual({ n: 'A', keep: 'k' }); // A's patch applied once
        const u = await B.update(id, cur!.generation, { b: 'B' });
        if (!u.ok) throw new Error('B update');
        byB = u.session;
      },
    );
    expect(r).toEqual({ ok: true, session: byB });
    expect(await B.peek(id)).toEqual(byB); // the patch did not apply a second time
  });

  it('update and create, then B terminates: each re-send reports terminated', async () => {
    const { A, B } = await nodes();
    const id = `u-t-${Math.random().toString(36).slice(2)}`;
    const s0 = await created(B, id);
    const u = await lostReply(
      () => A.update(id, s0.generation, { n: 'A' }),
      async () => {
        expect(await B.terminate(id)).toMatchObject({ ok: true });
      },
    );
    expect(u).toEqual({ ok: false, reason: 'terminated' });
    const id2 = `c-t-${Math.random().toString(36).slice(2)}`;
    const c = await lostReply(
      () => A.create(id2, { n: 'A' }),
      async () => {
        expect(await B.terminate(id2)).toMatchObject({ ok: true });
      },
    );
    expect(c).toEqual({ ok: false, reason: 'terminated' });
    expect(await B.peek(id)).toBeNull();
    expect(await B.peek(id2)).toBeNull();
  });
});
