/**
 * A deliberately naive SessionStore on Redis, kept only to prove that the
 * property tests and the linearizability checker can fail.
 *
 * It does what connect-redis and most session stores do: load the record,
 * decide in JavaScript, then store the result unconditionally (MULTI DEL,
 * HSET, PEXPIRE: atomic on its own, so every key keeps a TTL). It uses
 * session-cas's key layout and reply shapes, and when calls do not overlap it
 * behaves exactly like the real stores (the model-based test passes on it).
 * Overlapping calls break it: a terminate or an expiry between the load and
 * the store is overwritten (resurrection), two writers that loaded the same
 * generation both "succeed" (lost update, duplicate generation).
 *
 * `pause` runs between the load and the store, so a race schedule can put
 * other operations exactly there.
 *
 * Principals the naive way too: a plain set of ids per principal, added to
 * after the create, listed and terminated one by one with the same
 * load-then-store terminate, and a cap checked before the create.
 * @module
 */
import type { Client } from '../../src/redis/scripts.js';
import {
  type CreateOptions,
  type CreateResult,
  type Metadata,
  type MutateFn,
  type MutateOptions,
  type MutateResult,
  type PatchChanges,
  type PatchOptions,
  type Session,
  type SessionStore,
  type SessionStoreOptions,
  type TerminateAllOptions,
  type TerminateAllResult,
  type TerminateOptions,
  type TerminateResult,
  type TouchOptions,
  type TouchResult,
  type TtlOption,
  type WriteResult,
  sessionKey,
} from '../../src/index.js';

export interface NaiveStoreOptions extends SessionStoreOptions {
  prefix: string;
  /** Awaited between every load and the store that follows it. */
  pause?: (label: string) => Promise<void>;
}

type Loaded = { kind: 'absent' } | { kind: 'tomb'; generation: number } | { kind: 'live'; session: Session };

export class NaiveRedisStore implements SessionStore {
  private readonly ttlMs: number;
  private readonly tombstoneTtlMs: number;
  private readonly touchOnGet: boolean;

  constructor(
    readonly client: Client,
    private readonly options: NaiveStoreOptions,
  ) {
    this.ttlMs = options.ttlMs ?? 1_800_000;
    this.tombstoneTtlMs = options.tombstoneTtlMs ?? this.ttlMs;
    this.touchOnGet = options.touchOnGet ?? true;
  }

  keyFor(id: string): string {
    return sessionKey(id, this.options.prefix);
  }

  private pause(label: string): Promise<void> {
    return this.options.pause?.(label) ?? Promise.resolve();
  }

  private async load(id: string): Promise<Loaded> {
    const h = await this.client.hgetall(this.keyFor(id));
    if (h.g === undefined) return { kind: 'absent' };
    const generation = Number(h.g);
    if (h.t !== undefined) return { kind: 'tomb', generation };
    const metadata: Metadata = {};
    for (const [f, v] of Object.entries(h)) if (f.startsWith('m')) metadata[f.slice(1)] = v;
    const identity = { createdAt: Number(h.c ?? 0), ...(h.p === undefined ? {} : { principal: h.p }) };
    return { kind: 'live', session: { id, generation, metadata, ...identity } };
  }

  private indexOf(principal: string): string {
    return `${this.options.prefix}naive-principal:${principal}`;
  }

  /** The unconditional store: whatever is there is replaced. */
  private async save(
    id: string,
    generation: number,
    metadata: Metadata,
    ttlMs: number,
    identity: { createdAt: number; principal?: string },
  ): Promise<Session> {
    const fields: string[] = ['g', String(generation), 'c', String(identity.createdAt)];
    if (identity.principal !== undefined) fields.push('p', identity.principal);
    for (const [k, v] of Object.entries(metadata)) fields.push(`m${k}`, v);
    await this.client
      .multi()
      .del(this.keyFor(id))
      .hset(this.keyFor(id), ...fields)
      .pexpire(this.keyFor(id), ttlMs)
      .exec();
    const { createdAt, principal } = identity;
    return { id, generation, metadata: { ...metadata }, createdAt, ...(principal === undefined ? {} : { principal }) };
  }

  private missing(l: Loaded): { ok: false; reason: 'not_found' | 'terminated' } | undefined {
    if (l.kind === 'absent') return { ok: false, reason: 'not_found' };
    if (l.kind === 'tomb') return { ok: false, reason: 'terminated' };
    return undefined;
  }

  async create(id: string, metadata: Metadata = {}, opts: CreateOptions = {}): Promise<CreateResult> {
    const l = await this.load(id);
    if (l.kind === 'live') return { ok: false, reason: 'exists' };
    if (l.kind === 'tomb') return { ok: false, reason: 'terminated' };
    const principal = opts.principal;
    const cap = this.options.maxSessionsPerPrincipal;
    if (principal !== undefined && cap !== undefined) {
      const live = await this.sessionsOf(principal);
      if (live.length >= cap && this.options.onPrincipalLimit === 'refuse') return { ok: false, reason: 'limit' };
      for (const s of live.slice(0, Math.max(0, live.length - cap + 1))) await this.terminate(s.id);
    }
    await this.pause('create: between load and store');
    const [sec, usec] = await this.client.time();
    const generation = Number(sec) * 1_000_000 + Number(usec);
    const identity = { createdAt: Math.floor(generation / 1000), ...(principal === undefined ? {} : { principal }) };
    const session = await this.save(id, generation, metadata, opts.ttlMs ?? this.ttlMs, identity);
    if (principal !== undefined) {
      await this.pause('create: between store and index');
      await this.client.sadd(this.indexOf(principal), id);
      await this.client.pexpire(this.indexOf(principal), this.ttlMs * 3);
    }
    return { ok: true, session };
  }

  async sessionsOf(principal: string): Promise<Session[]> {
    const ids = await this.client.smembers(this.indexOf(principal));
    const out: Session[] = [];
    for (const id of ids) {
      const l = await this.load(id);
      if (l.kind === 'live' && l.session.principal === principal) out.push(l.session);
    }
    return out.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async terminateAll(principal: string, opts: TerminateAllOptions = {}): Promise<TerminateAllResult> {
    const terminated: string[] = [];
    for (const s of await this.sessionsOf(principal)) {
      if (opts.except?.includes(s.id)) continue;
      if ((await this.terminate(s.id)).ok) terminated.push(s.id);
    }
    return { terminated };
  }

  async get(id: string): Promise<Session | null> {
    const l = await this.load(id);
    if (l.kind !== 'live') return null;
    if (this.touchOnGet) {
      await this.pause('get: between load and touch');
      await this.client.pexpire(this.keyFor(id), this.ttlMs);
    }
    return l.session;
  }

  async peek(id: string): Promise<Session | null> {
    const l = await this.load(id);
    return l.kind === 'live' ? l.session : null;
  }

  async exists(id: string): Promise<boolean> {
    return (await this.load(id)).kind === 'live';
  }

  async update(id: string, expectedGeneration: number, metadata: Metadata, opts: TtlOption = {}): Promise<WriteResult> {
    const l = await this.load(id);
    if (l.kind !== 'live') return this.missing(l)!;
    if (l.session.generation !== expectedGeneration) return { ok: false, reason: 'conflict', session: l.session };
    await this.pause('update: between load and store');
    const session = await this.save(id, expectedGeneration + 1, metadata, opts.ttlMs ?? this.ttlMs, l.session);
    return { ok: true, session };
  }

  async patch(id: string, changes: PatchChanges, opts: PatchOptions = {}): Promise<WriteResult> {
    const l = await this.load(id);
    if (l.kind !== 'live') return this.missing(l)!;
    if (opts.expectedGeneration !== undefined && l.session.generation !== opts.expectedGeneration) {
      return { ok: false, reason: 'conflict', session: l.session };
    }
    if (Object.keys(changes.set ?? {}).length === 0 && (changes.remove ?? []).length === 0)
      return { ok: true, session: l.session };
    const next: Metadata = { ...l.session.metadata };
    for (const name of changes.remove ?? []) delete next[name];
    Object.assign(next, changes.set ?? {});
    await this.pause('patch: between load and store');
    const session = await this.save(id, l.session.generation + 1, next, opts.ttlMs ?? this.ttlMs, l.session);
    return { ok: true, session };
  }

  async touch(id: string, opts: TouchOptions = {}): Promise<TouchResult> {
    const l = await this.load(id);
    if (l.kind !== 'live') return this.missing(l)!;
    if (opts.expectedGeneration !== undefined && l.session.generation !== opts.expectedGeneration) {
      return { ok: false, reason: 'conflict', session: l.session };
    }
    await this.pause('touch: between load and expire');
    await this.client.pexpire(this.keyFor(id), opts.ttlMs ?? this.ttlMs);
    return { ok: true, generation: l.session.generation };
  }

  async terminate(id: string, opts: TerminateOptions = {}): Promise<TerminateResult> {
    const l = await this.load(id);
    if (l.kind !== 'live') return this.missing(l)!;
    if (opts.expectedGeneration !== undefined && l.session.generation !== opts.expectedGeneration) {
      return { ok: false, reason: 'conflict', session: l.session };
    }
    await this.pause('terminate: between load and store');
    const key = this.keyFor(id);
    await this.client
      .multi()
      .del(key)
      .hset(key, 'g', String(l.session.generation), 't', '1')
      .pexpire(key, this.tombstoneTtlMs)
      .exec();
    return { ok: true, generation: l.session.generation };
  }

  /** Load, call fn, store: no compare-and-set, so never a conflict. */
  async mutate(id: string, fn: MutateFn, opts: MutateOptions = {}): Promise<MutateResult> {
    const l = await this.load(id);
    if (l.kind !== 'live') return { ...this.missing(l)!, attempts: 1 };
    const next = await fn(l.session);
    if (next === undefined) return { ok: true, session: l.session, attempts: 1 };
    await this.pause('mutate: between fn and store');
    const session = await this.save(id, l.session.generation + 1, next, opts.ttlMs ?? this.ttlMs, l.session);
    return { ok: true, session, attempts: 1 };
  }
}
