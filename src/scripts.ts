/**
 * Registers the embedded Lua scripts on an ioredis client with
 * `defineCommand`, so they take part in auto-pipelining and cluster routing,
 * and ioredis sends EVALSHA with an EVAL fallback on NOSCRIPT (after
 * SCRIPT FLUSH or a restart). The command name carries a hash of the
 * source, so two versions of this library on one client never collide.
 * @module
 */
import type { Cluster, Redis } from 'ioredis';
import { LUA, type ScriptName } from './generated/lua.js';

/** What session-cas needs of a client: `Redis` or `Cluster`, ioredis 5 or 6. */
export type Client = Redis | Cluster;

type ScriptCaller = (key: string, ...args: Array<string | number>) => Promise<unknown>;

/** Scripts that never write; ioredis may send them to replicas (`scaleReads`). */
const READ_ONLY: ReadonlySet<ScriptName> = new Set<ScriptName>(['peek', 'exists']);

export function commandName(name: ScriptName): string {
  return `sessionCas_${name}_${LUA[name].tag}`;
}

/** Defines every script on the client once; later calls find them defined. */
export function registerScripts(client: Client): void {
  const target = client as unknown as Record<string, unknown>;
  for (const name of Object.keys(LUA) as ScriptName[]) {
    const cmd = commandName(name);
    if (typeof target[cmd] === 'function') continue;
    client.defineCommand(cmd, { numberOfKeys: 1, lua: LUA[name].source, readOnly: READ_ONLY.has(name) });
  }
}

/** Calls a registered script with one key. */
export function callScript(client: Client, name: ScriptName, key: string, args: Array<string | number>): Promise<unknown> {
  const fn = (client as unknown as Record<string, ScriptCaller | undefined>)[commandName(name)];
  if (!fn) registerScripts(client); // e.g. a client swapped in after construction
  return (fn ?? (client as unknown as Record<string, ScriptCaller>)[commandName(name)]!).call(client, key, ...args);
}
