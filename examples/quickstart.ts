import { Redis } from 'ioredis';
import { RedisSessionStore } from 'session-cas';

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const store = new RedisSessionStore(redis, { ttlMs: 30 * 60_000, prefix: 'quickstart:' });
const id = `sess-${Date.now()}`;

// Create: the only operation that can bring a session into existence.
const created = await store.create(id, { user: 'ada', backends: 'github' });
if (!created.ok) throw new Error(`create: ${created.reason}`);
const { generation } = created.session;

// Two writers read the same generation: exactly one compare-and-set wins.
const a = await store.update(id, generation, { user: 'ada', backends: 'github,jira' });
const b = await store.update(id, generation, { user: 'ada', backends: 'github,slack' });
console.log('writer A:', a.ok ? 'applied' : a.reason); // applied
console.log('writer B:', b.ok ? 'applied' : b.reason); // conflict (b.session is the current record)

// mutate = read -> change -> CAS, retried on conflict: nothing is lost.
const m = await store.mutate(id, (s) => ({ ...s.metadata, backends: `${s.metadata.backends},slack` }));
console.log('mutate:', m.ok ? m.session.metadata.backends : m.reason, `after ${m.attempts} attempt(s)`);

// Logout: the id is terminated, and a late writer cannot bring it back.
await store.terminate(id);
const late = await store.patch(id, { set: { lastSeen: String(Date.now()) } });
console.log('late write after logout:', late.ok ? 'applied (bug!)' : late.reason); // terminated
console.log('session now:', await store.get(id)); // null

redis.disconnect();
