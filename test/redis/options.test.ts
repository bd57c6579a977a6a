/** RedisSessionStore's own options are checked at construction, before any I/O. */
import { afterAll, describe, expect, it } from 'vitest';
import { RedisSessionStore, isInvalidArgument } from '../../src/index.js';
import { createClient } from '../infra/clients.js';

const client = createClient(5, undefined, { lazyConnect: true });
afterAll(() => client.disconnect());

function rejects(argument: string, make: () => unknown) {
  let err: unknown;
  try {
    make();
  } catch (e) {
    err = e;
  }
  expect(isInvalidArgument(err), String(err)).toBe(true);
  expect((err as { argument: string }).argument).toBe(argument);
}

describe('RedisSessionStore options', () => {
  it('rejects a client that is not ioredis', () => {
    rejects('client', () => new RedisSessionStore({} as never));
    rejects('client', () => new RedisSessionStore(null as never));
  });

  it.each([['{app}:'], ['a{'], ['}'], [42]])('rejects the prefix %j', (prefix) => {
    rejects('options.prefix', () => new RedisSessionStore(client, { prefix: prefix as string }));
  });

  it('accepts an empty prefix and prefixes with colons and glob characters', () => {
    for (const prefix of ['', 'app:sess:', 'a*b?[c]:'])
      expect(new RedisSessionStore(client, { prefix }).prefix).toBe(prefix);
  });

  it('rejects a bad eventsChannel and terminateWait', () => {
    rejects('options.eventsChannel', () => new RedisSessionStore(client, { eventsChannel: '' }));
    rejects(
      'options.terminateWait.replicas',
      () => new RedisSessionStore(client, { terminateWait: { replicas: 0, timeoutMs: 10 } }),
    );
    rejects(
      'options.terminateWait.timeoutMs',
      () => new RedisSessionStore(client, { terminateWait: { replicas: 1, timeoutMs: 1.5 } }),
    );
    rejects('options', () => new RedisSessionStore(client, 'x' as never));
  });

  it('rejects unknown option keys, in terminateWait too, naming them', () => {
    rejects('options.prefx', () => new RedisSessionStore(client, { prefx: 'a:' } as never));
    rejects('options.eventChannel', () => new RedisSessionStore(client, { eventChannel: 'e' } as never));
    rejects(
      'options.terminateWait.timeout',
      () => new RedisSessionStore(client, { terminateWait: { replicas: 1, timeoutMs: 10, timeout: 10 } } as never),
    );
    expect(() => new RedisSessionStore(client, { prefx: 'a:' } as never)).toThrow(/did you mean prefix\?/);
  });

  it('sends nothing to Redis while constructing', () => {
    new RedisSessionStore(client, { prefix: 'p:' });
    expect(client.status).toBe('wait');
  });
});
