/** Vitest global setup: one Redis for the whole run, handed to files via inject('redisUrl'). */
import type { TestProject } from 'vitest/node';
import { provideRedis } from './provision.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    redisSource: string;
    redisOwned: boolean;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const redis = await provideRedis();
  console.log(`[session-cas tests] Redis from ${redis.source}: ${redis.url}`);
  project.provide('redisUrl', redis.url);
  project.provide('redisSource', redis.source);
  project.provide('redisOwned', redis.owned);
  return () => redis.stop();
}
