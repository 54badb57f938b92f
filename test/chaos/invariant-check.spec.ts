import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checkInvariants, countedRecords, keysUnder } from '../../bench/soak/invariants.js';
import { isCluster } from '../../src/registry/redis/redis-connection.js';
import { RedisKeys } from '../../src/registry/redis/redis-keys.js';
import { CHAOS_BACKENDS, ChaosCluster, ChaosRedis } from '../support/cluster-harness.js';

const LIMIT = 4;
const USERS = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7'];

// The fault cases trust the invariant check to see the whole registry. On a Redis Cluster each
// primary holds only its slots' keys: a check that scanned one node would miss most users and
// pass (or fail) for the wrong reason. This proves it reads every primary and can fail.
describe.each(CHAOS_BACKENDS)('on %s Redis', (backend) => {
  const redis = new ChaosRedis(backend);
  beforeAll(() => redis.start(), 60_000);
  afterAll(() => redis.stop());

  describe('the invariant check', () => {
    let cluster: ChaosCluster;
    afterEach(() => cluster.stop());

    it('counts every user wherever its slot lives, and reports a manager the registry lost', { timeout: 60_000 }, async () => {
      cluster = new ChaosCluster(redis.url, { WS_MAX_MANAGERS_PER_USER: String(LIMIT) });
      const a = await cluster.start('node-a');
      for (const userId of USERS) expect((await cluster.connect(a, userId, 'c0')).outcome).toBe('session');
      expect(await cluster.converged(USERS, LIMIT), cluster.output()).toEqual([]);

      const counted = await countedRecords(cluster.redis, cluster.keyPrefix);
      expect([...counted.keys()].sort()).toEqual(USERS);
      // On the cluster the users' hashes really are spread over several primaries (8 users, 3 primaries).
      const nodes = isCluster(cluster.redis) ? cluster.redis.nodes('master') : [cluster.redis];
      const holding = (await Promise.all(nodes.map((node) => keysUnder(node, cluster.keyPrefix)))).filter((keys) => keys.some((k) => k.includes('{u:'))).length;
      expect(holding > 1, `user hashes on ${holding} of ${nodes.length} nodes`).toBe(backend === 'cluster');

      // Drop one user's hash behind the instance's back: its socket is now on an uncounted manager.
      await cluster.redis.del(new RedisKeys(cluster.keyPrefix).userManagers('u5'));
      const violations = await checkInvariants({ redis: cluster.redis, keyPrefix: cluster.keyPrefix, users: USERS, limit: LIMIT, instances: cluster.instances, clients: cluster.clients });
      expect(violations.some((v) => v.startsWith('I3 "u5"'))).toBe(true);
      expect(violations.every((v) => v.startsWith('I3 "u5"')), violations.join('\n')).toBe(true);
    });
  });
});
