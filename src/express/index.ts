/**
 * `session-cas/express`: a store for express-session on top of {@link RedisSessionStore}, which
 * keeps the generation of each loaded session so that a logout or an expiry is never undone and
 * concurrent requests that set different fields both persist.
 *
 * @packageDocumentation
 */
export { CasSessionStore } from './cas-session-store.js';
export { SessionConflictError, isSessionConflict } from './conflict.js';
export type { FieldSerializer } from './field-diff.js';
export type { CasSessionStoreConfig, CasSessionStoreOptions, SameFieldPolicy } from './options.js';
export { default } from './cas-session-store.js';
