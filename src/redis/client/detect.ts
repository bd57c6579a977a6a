/**
 * Which client the caller gave, by duck typing: ioredis has `defineCommand`,
 * node-redis has `sendCommand` + `duplicate` and either `sSubscribe` (a
 * client) or `masters` + `nodeClient` (a cluster). Neither package is
 * imported, so neither is needed at run time when unused.
 * @module
 */
import type { Cluster, Redis } from 'ioredis';
import { InvalidArgumentError } from '../../core/errors.js';
import type { ClientAdapter, SupportedClient } from './interface.js';
import { ioredisAdapter, isIoredis } from './ioredis.js';
import { isNodeRedis, nodeRedisAdapter } from './node-redis.js';

const adapters = new WeakMap<object, ClientAdapter>();

function isAdapter(x: unknown): x is ClientAdapter {
  return typeof x === 'object' && x !== null && (x as { adapter?: unknown }).adapter === true;
}

/** Whether `x` is a client session-cas can use (ioredis 5/6 or node-redis v5+, single node or Cluster). */
export function isSupportedClient(x: unknown): x is SupportedClient {
  return isIoredis(x) || isNodeRedis(x);
}

/**
 * The adapter of `client` (one per client object, however many stores share
 * it), or `undefined` for anything that is not a supported client. An
 * adapter passed in is returned as it is.
 */
export function adapt(client: unknown): ClientAdapter | undefined {
  if (isAdapter(client)) return client;
  if (typeof client !== 'object' || client === null) return undefined;
  const known = adapters.get(client);
  if (known) return known;
  let made: ClientAdapter | undefined;
  if (isIoredis(client)) made = ioredisAdapter(client as Redis | Cluster);
  else if (isNodeRedis(client)) made = nodeRedisAdapter(client);
  if (made) adapters.set(client, made);
  return made;
}

/**
 * The adapter of `client`.
 * @throws InvalidArgumentError naming `argument` for anything but a supported client.
 */
export function requireAdapter(client: unknown, argument = 'client'): ClientAdapter {
  const adapter = adapt(client);
  if (adapter) return adapter;
  throw new InvalidArgumentError(
    argument,
    'expected an ioredis Redis or Cluster, or a node-redis client (createClient or createCluster)',
  );
}
