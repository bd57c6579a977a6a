/**
 * Where the tests (and `npm run bench`, `npm run example`) get Redis from, in
 * this order: REDIS_URL if set; else a throwaway redis-server on a free
 * loopback port; else Docker via testcontainers; else a clear error.
 * Tests never FLUSHALL a server they did not start; they isolate by key prefix.
 */
import { hasRedisServerBinary, startRedisServer } from './redis-server.js';

export type RedisSource = 'REDIS_URL' | 'redis-server' | 'testcontainers';

export interface ProvidedRedis {
  readonly url: string;
  readonly source: RedisSource;
  /** True when the server was started here (so it may be flushed, killed...). */
  readonly owned: boolean;
  stop(): Promise<void>;
}

export const HOW_TO_PROVIDE_REDIS = [
  'session-cas tests need Redis 7 and found none. Provide one of:',
  '  - REDIS_URL=redis://host:port (a server you own; tests use unique key prefixes and never flush it)',
  '  - the redis-server binary on PATH (Debian/Ubuntu: apt-get install redis-server), started per run on a free port',
  '  - a running Docker engine (testcontainers starts redis:7)',
].join('\n');

export async function provideRedis(): Promise<ProvidedRedis> {
  const fromEnv = process.env.REDIS_URL;
  if (fromEnv) return { url: fromEnv, source: 'REDIS_URL', owned: false, stop: async () => undefined };
  if (hasRedisServerBinary()) {
    const server = await startRedisServer();
    return { url: server.url, source: 'redis-server', owned: true, stop: () => server.kill() };
  }
  try {
    const { RedisContainer } = await import('@testcontainers/redis');
    const container = await new RedisContainer('redis:7').start();
    return {
      url: container.getConnectionUrl(),
      source: 'testcontainers',
      owned: true,
      stop: async () => {
        await container.stop();
      },
    };
  } catch (err) {
    throw new Error(
      `${HOW_TO_PROVIDE_REDIS}\n(testcontainers: ${err instanceof Error ? err.message.split('\n')[0] : String(err)})`,
    );
  }
}
