/**
 * What a store call says when Redis answers something it cannot read, and
 * where the patch size cap is enforced. No Redis: a stand-in client answers
 * every function call with a chosen reply and counts the calls.
 */
import { describe, expect, it } from 'vitest';
import {
  MemorySessionStore,
  RedisSessionStore,
  isInvalidArgument,
  isOutcomeUnknown,
  isRedisFault,
  isSessionStoreError,
} from '../../src/index.js';
import { Code } from '../../src/redis/decode.js';
import type { Client } from '../../src/redis/scripts.js';

/** A client whose every FCALL / FCALL_RO resolves to `reply`. */
function fakeClient(reply: unknown): { client: Client; calls: () => number } {
  let calls = 0;
  const answer = async (): Promise<unknown> => {
    calls++;
    return reply;
  };
  const client = { defineCommand() {}, on() {}, options: {}, fcall: answer, fcall_ro: answer };
  return { client: client as unknown as Client, calls: () => calls };
}

function storeReplying(reply: unknown, maxMetadataBytes?: number) {
  const { client, calls } = fakeClient(reply);
  const store = new RedisSessionStore(client, { evictionPolicyCheck: 'off', maxMetadataBytes });
  return { store, calls };
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(v)}`);
    },
    (e: unknown) => e,
  );
}

describe('UNEXPECTED_REPLY', () => {
  const writes: Array<[string, unknown, (s: RedisSessionStore) => Promise<unknown>]> = [
    ['create, a reply of no known shape', { weird: true }, (s) => s.create('a', { x: '1' })],
    ['update, an unknown code', [99, '', []], (s) => s.update('a', 5, {})],
    ['create, a code create never gives (CONFLICT)', [Code.CONFLICT, '7', []], (s) => s.create('a')],
    ['terminate, OK without a generation', [Code.OK, '', []], (s) => s.terminate('a')],
    [
      'patch, CONFLICT with a record without generation',
      [Code.CONFLICT, '3', ['mx', '1']],
      (s) => s.patch('a', { set: { x: '2' } }),
    ],
    ['touch, a generation out of range', 2 ** 60, (s) => s.touch('a')],
  ];

  for (const [name, reply, call] of writes) {
    it(`after a write is a fault whose outcome is unknown, and says so: ${name}`, async () => {
      const { store, calls } = storeReplying(reply);
      const err = await failure(call(store));
      expect(calls()).toBe(1);
      expect(isRedisFault(err), String(err)).toBe(true);
      if (!isRedisFault(err)) return;
      expect(err.code).toBe('UNEXPECTED_REPLY');
      expect(err.outcome).toBe('unknown');
      expect(err.message).toMatch(/the outcome is unknown/);
      expect(isOutcomeUnknown(err)).toBe(true); // the guard a retry loop uses sees it
      expect(err.sessionId).toBe('a');
    });
  }

  it('after a read is a fault whose outcome is not_applied, and does not claim a write', async () => {
    const { store } = storeReplying({ weird: true });
    for (const call of [() => store.peek('a'), () => store.exists('a')]) {
      const err = await failure(call());
      expect(isRedisFault(err) && err.code === 'UNEXPECTED_REPLY', String(err)).toBe(true);
      if (!isRedisFault(err)) return;
      expect(err.outcome).toBe('not_applied');
      expect(err.message).not.toMatch(/outcome is unknown/);
      expect(isOutcomeUnknown(err)).toBe(false);
    }
  });
});

describe('the patch size cap', () => {
  it('changes over the cap by themselves are refused before any I/O', async () => {
    const { store, calls } = storeReplying([Code.OK, '2', ['g', '1']], 8);
    const err = await failure(store.patch('a', { set: { name: 'too long a value' } }));
    expect(isInvalidArgument(err) && err.argument, String(err)).toBe('changes.set');
    expect(calls()).toBe(0);
  });

  it("a result over the cap is found by the server's function, which wrote nothing, and the error says so", async () => {
    const { store, calls } = storeReplying([Code.TOO_LARGE, 20, []], 8);
    const err = await failure(store.patch('a', { set: { k: 'v' } }));
    expect(calls()).toBe(1);
    expect(isInvalidArgument(err) && err.argument, String(err)).toBe('changes');
    expect((err as Error).message).toMatch(/20 bytes, over maxMetadataBytes \(8\)/);
    expect((err as Error).message).toMatch(/found by the server/);
    expect((err as Error).message).toMatch(/nothing was written/);
  });

  it('the memory store gives the same error, and writes nothing', async () => {
    const store = new MemorySessionStore({ maxMetadataBytes: 8 });
    const created = await store.create('a', { k: 'vvvvvv' });
    const err = await failure(store.patch('a', { set: { l: 'v' } }));
    expect(isInvalidArgument(err) && err.argument, String(err)).toBe('changes');
    expect((err as Error).message).toMatch(/nothing was written/);
    expect(isSessionStoreError(err)).toBe(true);
    expect(await store.peek('a')).toEqual(created.ok && created.session);
  });
});
