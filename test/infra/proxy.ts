/**
 * A loopback TCP proxy between a client and a redis-server, for fault tests.
 * Its mode decides what happens to bytes as they arrive, and can be switched
 * at any time:
 *
 * - `pass`          forward both ways
 * - `delay`         forward both ways, each chunk `delayMs` late (order kept)
 * - `drop-request`  discard client -> server bytes; replies still flow
 * - `drop-reply`    forward client -> server bytes; discard the replies
 * - `blackhole`     discard both ways; the connections stay open
 * - `reset`         reset every open connection now and each new one at once
 *
 * Dropping a chunk can cut a RESP frame in half, so after a drop mode call
 * {@link FaultProxy.resetConnections} before going back to `pass`: the client
 * then reconnects on a clean stream. Counters say what happened to the bytes,
 * so a test can wait for "the request reached Redis" instead of sleeping.
 */
import { type Server, type Socket, connect, createServer } from 'node:net';

export type ProxyMode = 'pass' | 'delay' | 'drop-request' | 'drop-reply' | 'blackhole' | 'reset';

export interface ProxyStats {
  /** Client connections accepted so far. */
  accepted: number;
  /** Client connections open now. */
  open: number;
  requestBytesForwarded: number;
  requestBytesDropped: number;
  replyBytesForwarded: number;
  replyBytesDropped: number;
  /** Connections this proxy reset (by mode or resetConnections()). */
  resets: number;
}

export interface FaultProxy {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  readonly stats: Readonly<ProxyStats>;
  mode(): ProxyMode;
  setMode(mode: ProxyMode, opts?: { delayMs?: number }): void;
  /** Resets (RST) every open connection; the mode stays. */
  resetConnections(): void;
  /** Resolves when `pred(stats)` holds; rejects after `timeoutMs`. */
  waitFor(pred: (s: Readonly<ProxyStats>) => boolean, timeoutMs?: number): Promise<void>;
  /** Stops listening and resets every connection. */
  close(): Promise<void>;
}

interface Pair {
  readonly client: Socket;
  readonly server: Socket;
}

/** Writes chunks `delayMs` after they arrived, in arrival order. */
class DelayLine {
  private readonly queue: Array<{ due: number; data: Buffer }> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly out: Socket) {}

  push(data: Buffer, delayMs: number): void {
    const last = this.queue.at(-1)?.due ?? 0;
    this.queue.push({ due: Math.max(Date.now() + delayMs, last), data });
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.queue.length === 0) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        const now = Date.now();
        while (this.queue.length > 0 && this.queue[0]!.due <= now) {
          const { data } = this.queue.shift()!;
          if (!this.out.destroyed) this.out.write(data);
        }
        this.schedule();
      },
      Math.max(0, this.queue[0]!.due - Date.now()),
    );
  }

  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }
}

function hardReset(socket: Socket): void {
  if (socket.destroyed) return;
  const s = socket as Socket & { resetAndDestroy?: () => Socket };
  if (typeof s.resetAndDestroy === 'function' && !socket.connecting) s.resetAndDestroy();
  else socket.destroy();
}

/** Starts a proxy on a free loopback port in front of `target`. */
export async function startProxy(target: { host?: string; port: number }): Promise<FaultProxy> {
  const host = target.host ?? '127.0.0.1';
  let mode: ProxyMode = 'pass';
  let delayMs = 0;
  const pairs = new Set<Pair>();
  const stats: ProxyStats = {
    accepted: 0,
    open: 0,
    requestBytesForwarded: 0,
    requestBytesDropped: 0,
    replyBytesForwarded: 0,
    replyBytesDropped: 0,
    resets: 0,
  };

  const resetPair = (pair: Pair): void => {
    if (!pairs.delete(pair)) return;
    stats.resets++;
    hardReset(pair.client);
    hardReset(pair.server);
  };

  const server: Server = createServer((client) => {
    stats.accepted++;
    client.setNoDelay(true);
    const upstream = connect({ host, port: target.port });
    upstream.setNoDelay(true);
    const pair: Pair = { client, server: upstream };
    pairs.add(pair);
    stats.open++;
    const toServer = new DelayLine(upstream);
    const toClient = new DelayLine(client);
    let closed = false;
    const close = (): void => {
      if (closed) return;
      closed = true;
      stats.open--;
      toServer.clear();
      toClient.clear();
      pairs.delete(pair);
      if (!client.destroyed) client.destroy();
      if (!upstream.destroyed) upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    if (mode === 'reset') {
      resetPair(pair);
      return;
    }
    client.on('data', (data: Buffer) => {
      if (mode === 'drop-request' || mode === 'blackhole') {
        stats.requestBytesDropped += data.length;
      } else if (mode === 'reset') {
        resetPair(pair);
      } else {
        stats.requestBytesForwarded += data.length;
        if (mode === 'delay') toServer.push(data, delayMs);
        else upstream.write(data);
      }
    });
    upstream.on('data', (data: Buffer) => {
      if (mode === 'drop-reply' || mode === 'blackhole') {
        stats.replyBytesDropped += data.length;
      } else if (mode === 'reset') {
        resetPair(pair);
      } else {
        stats.replyBytesForwarded += data.length;
        if (mode === 'delay') toClient.push(data, delayMs);
        else client.write(data);
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('proxy: no address');
  const port = address.port;

  return {
    host: '127.0.0.1',
    port,
    url: `redis://127.0.0.1:${port}`,
    stats,
    mode: () => mode,
    setMode(next, opts = {}) {
      mode = next;
      delayMs = opts.delayMs ?? (next === 'delay' ? 100 : 0);
      if (next === 'reset') for (const pair of [...pairs]) resetPair(pair);
    },
    resetConnections() {
      for (const pair of [...pairs]) resetPair(pair);
    },
    async waitFor(pred, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pred(stats)) {
        if (Date.now() > deadline)
          throw new Error(`proxy: condition not reached in ${timeoutMs} ms: ${JSON.stringify(stats)}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    close() {
      for (const pair of [...pairs]) resetPair(pair);
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
