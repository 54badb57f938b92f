import { Redis } from 'ioredis';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { keysUnder } from '../../bench/soak/invariants.js';
import { handshakeStatus, startExampleApp, type RunningApp } from '../support/app-harness.js';
import { deleteKeys, REDIS_URL, requireRedis, uniquePrefix } from '../support/redis.js';

/** Keys under `prefix` on the shared Redis. */
async function keysOf(prefix: string): Promise<string[]> {
  const redis = new Redis(REDIS_URL);
  try {
    return await keysUnder(redis, prefix);
  } finally {
    redis.disconnect();
  }
}

// On today's main (061a13f) every case FAILS: the upgrade is accepted (101). With the lone
// surrogate the admission script's cjson.decode fails and the client gets 1013 (the reply error
// reported as an outage); the control-character ids are admitted and stored in Redis.
describe('user ids that cannot be stored or logged safely', () => {
  let app: RunningApp;
  let prefix: string;
  beforeAll(() => requireRedis());
  afterEach(async () => {
    await app.close();
    await deleteKeys(prefix);
  });

  for (const [name, userId] of [
    ['a lone UTF-16 surrogate', 'user\uD800'],
    ['a trailing lone low surrogate', 'user\uDC00'],
    ['a newline', 'user\nforged log line'],
    ['a control character', 'user\u0007bell'],
  ] as const) {
    it(`refuses a token whose sub has ${name} at the handshake (400), creating nothing`, async () => {
      prefix = uniquePrefix();
      app = await startExampleApp({ WS_REGISTRY: 'redis', WS_REDIS_KEY_PREFIX: prefix, WS_NODE_ID: 'ids' });
      const token = await app.token(userId);
      expect(await handshakeStatus(app.url({ token, context: 'main' }))).toBe(400);
      expect((await keysOf(prefix)).filter((k) => k.includes('{u:'))).toEqual([]); // no user's key (RedisKeys.userManagers)
      // The app keeps working for everyone else.
      const { session } = await app.connect('good-user', 'main');
      expect(session).toMatchObject({ event: 'session', data: { context: 'main' } });
    });
  }
});
