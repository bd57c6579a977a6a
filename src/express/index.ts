/**
 * `session-cas/express`: a store for express-session on top of {@link RedisSessionStore}, which
 * keeps the generation of each loaded session so that a logout or an expiry is never undone and
 * concurrent requests that set different fields both persist.
 *
 * @packageDocumentation
 */
export {
  CasSessionStore,
  SessionConflictError,
  isSessionConflict,
  type CasSessionStoreConfig,
  type CasSessionStoreOptions,
  type FieldSerializer,
  type SameFieldPolicy,
} from './cas-session-store.js';
export { default } from './cas-session-store.js';
