import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisManagerRegistry } from '../../src/registry/redis/index.js';
import { uniquePrefix } from '../support/redis.js';
import { LocalRedisSentinel } from '../support/redis-sentinel.js';
import { managerRecord } from '../support/fixtures.js';
import { waitFor } from '../support/socket-harness.js';

const rec = managerRecord;

describe('RedisManagerRegistry behind Redis Sentinel (redis-sentinel:// URL)', () => {
  let sentinel: LocalRedisSentinel;

  beforeAll(async () => {
    sentinel = await LocalRedisSentinel.start();
  }, 60_000);

  afterAll(async () => {
    await sentinel?.stop();
  });

  it('admits through the primary Sentinel names, and keeps working after Sentinel promotes the replica', { timeout: 60_000 }, async () => {
    const keyPrefix = uniquePrefix();
    // Leases longer than the failover (about 2 s here), so that no entry stops counting meanwhile.
    const [a, b] = [new RedisManagerRegistry({ url: sentinel.url, keyPrefix, leaseTtlMs: 15_000 }), new RedisManagerRegistry({ url: sentinel.url, keyPrefix, leaseTtlMs: 15_000 })];
    await Promise.all([a.start('node-a'), b.start('node-b')]);
    try {
      for (const context of ['one', 'two']) expect((await a.admit(rec('alice', context, 'node-a'), 3)).admitted).toBe(true);
      expect(await b.countByUser('alice')).toBe(2);
      const resynced = new Promise<void>((resolve) => a.onResync(() => resolve()));

      await sentinel.killPrimary();
      // ioredis asks Sentinel for the new primary and reconnects; the registry re-registers after.
      await resynced;
      await waitFor(async () => (await b.admit(rec('alice', 'three', 'node-b'), 3).then((r) => r.admitted, () => false)), 20_000, 'admission on the new primary');
      expect(await a.countByUser('alice')).toBe(3);
      expect((await a.admit(rec('alice', 'four', 'node-a'), 3)).admitted).toBe(false);

      // Node channels follow the primary too.
      const received: string[] = [];
      b.onNodeMessage((message) => received.push(message));
      await waitFor(async () => (await a.sendToNode('node-b', 'after failover')) === 1, 10_000, 'subscriber on the new primary');
      await waitFor(() => received.includes('after failover'), 2000, 'node message');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
