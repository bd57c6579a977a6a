/**
 * `session-cas/fastify`: a store for @fastify/session on top of {@link RedisSessionStore}, which
 * keeps the generation of each loaded session across the request so that a logout or an expiry
 * is never undone and concurrent requests that set different fields both persist.
 *
 * @packageDocumentation
 */
export {
  CasSessionStore,
  TRACKING_FIELD,
  type CasSessionStoreConfig,
  type CasSessionStoreOptions,
  type FastifySessionData,
  type SameFieldPolicy,
} from './cas-session-store.js';
export { SessionConflictError, isSessionConflict } from '../express/conflict.js';
export type { FieldSerializer } from '../express/field-diff.js';
export { default } from './cas-session-store.js';
