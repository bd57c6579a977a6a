/**
 * Throwaway redis-server processes on free loopback ports, for isolation and
 * fault tests. Each server keeps nothing on disk and is killed by process id.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export function hasRedisServerBinary(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RedisServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly url: string;
  /** Current process id (changes on restart). */
  pid(): number | undefined;
  /** SIGKILL: no shutdown work at all. */
  kill(): Promise<void>;
  /** SHUTDOWN NOSAVE, falling back to SIGKILL. */
  stop(): Promise<void>;
  /** Starts the server again on the same port (after kill/stop). Data is gone. */
  start(): Promise<void>;
  /** kill() then start(). */
  restart(): Promise<void>;
}

/**
 * Starts redis-server on a free port (or `port`), waits until it answers PING.
 * `args` are extra command-line options, e.g. ['--maxmemory', '2mb'].
 */
export async function startRedisServer(opts: { port?: number; args?: string[] } = {}): Promise<RedisServer> {
  // Under the run's own temp root when the global setup made one (it removes it at the end).
  const dir = mkdtempSync(join(process.env.SESSION_CAS_TMP_ROOT ?? tmpdir(), 'scas-redis-'));
  let port = opts.port ?? (await freePort());
  let child: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const proc = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'no',
          '--protected-mode',
          'no',
          '--dir',
          dir,
          '--enable-debug-command',
          'yes',
          '--loglevel',
          'warning',
          ...(opts.args ?? []),
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let exited = false;
      proc.once('exit', () => {
        exited = true;
      });
      proc.stderr?.resume();
      if (await waitForPing(port, () => exited)) {
        child = proc;
        return;
      }
      proc.kill('SIGKILL');
      if (opts.port !== undefined) break;
      port = await freePort(); // lost a race for the port: pick another
    }
    throw new Error(`redis-server did not start on 127.0.0.1:${port}`);
  };

  const kill = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
  };

  await launch();
  const server: RedisServer = {
    host: '127.0.0.1',
    get port() {
      return port;
    },
    get url() {
      return `redis://127.0.0.1:${port}`;
    },
    pid: () => child?.pid,
    kill,
    async stop() {
      const proc = child;
      if (!proc) return;
      const exited = new Promise((r) => proc.once('exit', r));
      const c = new Redis({
        port,
        host: '127.0.0.1',
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      try {
        await c.connect();
        await c.call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
      } catch {
        proc.kill('SIGKILL');
      } finally {
        c.disconnect();
      }
      await Promise.race([exited, sleep(3000).then(() => proc.kill('SIGKILL'))]);
      child = undefined;
    },
    start: launch,
    async restart() {
      await kill();
      await launch();
    },
  };
  processCleanup.add(server);
  tempDirs.add(dir);
  return server;
}

async function waitForPing(port: number, gone: () => boolean): Promise<boolean> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && !gone()) {
    const c = new Redis({
      port,
      host: '127.0.0.1',
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    c.on('error', () => undefined);
    try {
      await c.connect();
      if ((await c.ping()) === 'PONG') return true;
    } catch {
      // not up yet
    } finally {
      c.disconnect();
    }
    await sleep(25);
  }
  return false;
}

/** Servers to kill if the test process exits without tearing them down. */
const processCleanup = new Set<RedisServer>();
/** Their working directories, removed when the test process exits. */
const tempDirs = new Set<string>();
process.once('exit', () => {
  for (const s of processCleanup) {
    const pid = s.pid();
    if (pid)
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
  }
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});
