import type { Cluster } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ManagerRecord } from '../../src/registry/manager-record.js';
import { RegistryUnavailableError } from '../../src/errors/registry-unavailable.error.js';
import { RedisKeys, RedisManagerRegistry } from '../../src/registry/redis/index.js';
import { managerRecord, seededRandom } from '../support/fixtures.js';
import { uniquePrefix } from '../support/redis.js';
import { LocalRedisCluster } from '../support/redis-cluster.js';
import { waitFor } from '../support/socket-harness.js';

const rec = managerRecord;

describe('RedisManagerRegistry on a real Redis Cluster (3 primaries, 3 replicas)', () => {
  let cluster: LocalRedisCluster;
  let raw: Cluster;
  let keyPrefix: string;
  let keys: RedisKeys;
  const open: RedisManagerRegistry[] = [];

  async function node(nodeId: string, leaseTtlMs = 15_000): Promise<RedisManagerRegistry> {
    const registry = new RedisManagerRegistry({ url: cluster.url, keyPrefix, leaseTtlMs, commandTimeoutMs: 1000 });
    await registry.start(nodeId);
    open.push(registry);
    return registry;
  }

  const slotOf = async (key: string) => Number(await raw.call('CLUSTER', 'KEYSLOT', key));

  beforeAll(async () => {
    cluster = await LocalRedisCluster.start();
    raw = cluster.client();
  }, 60_000);

  afterAll(async () => {
    raw?.disconnect();
    await cluster?.stop();
  });

  beforeEach(() => {
    keyPrefix = uniquePrefix();
    keys = new RedisKeys(keyPrefix);
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((r) => r.close()));
    await cluster.deleteKeys(keyPrefix);
  });

  describe('slots', () => {
    it("keeps all of one user's keys in one slot, and one node's keys in another", async () => {
      const a = await node('node-a');
      for (const userId of ['alice', 'bob', 'c}d', '{x}']) {
        for (const context of ['one', 'two']) expect((await a.admit(rec(userId, context, 'node-a'), 5)).admitted).toBe(true);
        expect(await raw.exists(keys.userManagers(userId), keys.userContexts(userId))).toBe(2);
        expect(await slotOf(keys.userContexts(userId))).toBe(await slotOf(keys.userManagers(userId)));
      }
      expect(await slotOf(keys.nodeChannel('node-a'))).toBe(await slotOf(keys.node('node-a')));
      expect(await slotOf(keys.leaseTokens())).toBe(await slotOf(keys.leases()));
      // Users are spread over the shards, not piled on one.
      const slots = new Set(await Promise.all(['alice', 'bob', 'carol', 'dave', 'erin', 'frank'].map((u) => slotOf(keys.userManagers(u)))));
      expect(slots.size).toBeGreaterThan(1);
    });

    it('refuses a script over two slots (CROSSSLOT), so every passing registry call proves its scripts stay in one', async () => {
      await expect(raw.eval("return redis.call('EXISTS', KEYS[1], KEYS[2])", 2, keys.userManagers('alice'), keys.userManagers('bob'))).rejects.toThrow(/CROSSSLOT/);
      // Every operation of the registry, each script at least once, with a dead node to reap.
      const [a, b] = [await node('node-a', 1500), await node('node-b', 1500)];
      const record = rec('alice', 'main', 'node-a');
      expect((await a.admit(record, 2)).admitted).toBe(true);
      expect(await b.admit(rec('alice', 'main', 'node-b'), 2)).toMatchObject({ admitted: false, existing: record });
      await a.update('alice', record.managerId, { detachedAt: 5, lastActivityAt: 6 });
      expect(await b.get('alice', record.managerId)).toMatchObject({ detachedAt: 5, lastActivityAt: 6 });
      expect(await b.findByContext('alice', 'main')).toMatchObject({ managerId: record.managerId });
      expect((await a.scanNode('node-a', undefined, 10)).records).toHaveLength(1);
      expect((await b.admit(rec('bob', 'x', 'node-b'), 2)).admitted).toBe(true);
      await b.close();
      open.splice(open.indexOf(b), 1);
      await waitFor(async () => (await raw.zrange(keys.leases(), 0, -1)).join() === 'node-a', 5000, 'node-b reaped and forgotten');
      expect(await raw.exists(keys.userManagers('bob'))).toBe(0);
      expect(await a.remove('alice', record.managerId)).toBe(true);
      expect(await a.countByUser('alice')).toBe(0);
    });
  });

  describe('leases', () => {
    it('a tick that finds its deadline passed calls the resync handlers', async () => {
      const a = await node('node-a', 1500);
      const resynced = new Promise<void>((resolve) => a.onResync(() => resolve()));
      await raw.zadd(keys.leases(), Date.now() - 1, 'node-a');
      await resynced;
      expect(Number(await raw.zscore(keys.leases(), 'node-a'))).toBeGreaterThan(Date.now());
    });

    it('stops counting a node whose lease expires, reaps its entries on every shard, then forgets it', async () => {
      const survivor = await node('survivor', 1500);
      const doomed = await node('doomed', 60_000);
      const users = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'];
      for (const userId of users) expect((await doomed.admit(rec(userId, 'x', 'doomed'), 1)).admitted).toBe(true);
      // What a kill -9 leaves behind once the TTL passed: a deadline in the past, nobody renewing it.
      await doomed.close();
      await raw.zadd(keys.leases(), Date.now() - 1, 'doomed');
      await waitFor(async () => (await survivor.countByUser('alice')) === 0, 5000, 'dead node stops counting');
      expect((await survivor.admit(rec('alice', 'x', 'survivor'), 1)).admitted).toBe(true);
      await waitFor(async () => (await raw.zrange(keys.leases(), 0, -1)).join() === 'survivor', 5000, 'reaped and forgotten');
      expect(await raw.exists(keys.node('doomed'))).toBe(0);
      for (const userId of users.slice(1)) expect(await raw.exists(keys.userManagers(userId))).toBe(0);
    });
  });

  describe('outage', () => {
    it('rejects promptly with RegistryUnavailableError while the whole cluster hangs, then serves again', async () => {
      const a = await node('node-a');
      expect((await a.admit(rec('alice', 'one', 'node-a'), 3)).admitted).toBe(true);
      // About a second, shorter than cluster-node-timeout (2 s): a hang, not a failover.
      cluster.pause(true);
      try {
        const started = Date.now();
        const error = await a.admit(rec('alice', 'two', 'node-a'), 3).then(() => null, (e: unknown) => e);
        // Within about the command timeout (1 s), not hanging until the cluster comes back.
        expect({ unavailable: error instanceof RegistryUnavailableError, fast: Date.now() - started < 3000 }).toEqual({ unavailable: true, fast: true });
      } finally {
        cluster.pause(false);
      }
      await cluster.waitUntilHealthy();
      await waitFor(async () => (await a.admit(rec('alice', 'two', 'node-a'), 3).then((r) => r.admitted, () => false)), 10_000, 'admission after the hang');
      expect(await a.countByUser('alice')).toBe(2);
    });
  });

  describe('failover mid-traffic', () => {
    const LIMIT = 3;
    const USERS = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5'];

    /** Admissions and removals from two nodes until `stop()`; outages during the failover are expected. */
    function traffic(nodes: RedisManagerRegistry[], seed: number): { stop(): Promise<{ ok: number; failed: number }> } {
      const random = seededRandom(seed);
      const state = { running: true };
      const counts = { ok: 0, failed: 0 };
      const worker = async (w: number) => {
        while (state.running) {
          const registry = nodes[w % nodes.length]!;
          const nodeId = w % nodes.length === 0 ? 'node-a' : 'node-b';
          const userId = random.pick(USERS);
          try {
            const result = await registry.admit(rec(userId, `c${random.int(0, 5)}`, nodeId), LIMIT);
            if (result.admitted && random.next() < 0.5) {
              const list = await registry.listByUser(userId);
              const victim = random.pick(list);
              await registry.remove(userId, victim.managerId);
            }
            counts.ok++;
          } catch {
            counts.failed++;
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      };
      const workers = Array.from({ length: 6 }, (_, w) => worker(w));
      return {
        async stop() {
          state.running = false;
          await Promise.all(workers);
          return counts;
        },
      };
    }

    /** I1 at the registry: at most LIMIT entries per user, one entry per (user, context), indexes in step. */
    async function assertInvariants(): Promise<void> {
      for (const userId of USERS) {
        const records = Object.values(await raw.hgetall(keys.userManagers(userId))).map((json) => JSON.parse(json) as ManagerRecord);
        const contexts = await raw.hgetall(keys.userContexts(userId));
        const byContext = new Map(records.map((r) => [r.context, r.managerId]));
        expect({ userId, count: records.length <= LIMIT, uniqueContexts: byContext.size === records.length }).toEqual({ userId, count: true, uniqueContexts: true });
        expect(contexts).toEqual(Object.fromEntries(byContext));
      }
    }

    it('holds the per-user limit and one entry per context through a coordinated failover (CLUSTER FAILOVER)', async () => {
      const [a, b] = [await node('node-a'), await node('node-b')];
      const load = traffic([a, b], 7);
      await new Promise((r) => setTimeout(r, 500));
      const primary = await cluster.primaryOf(keys.userManagers('u0'));
      await cluster.failover(primary);
      await new Promise((r) => setTimeout(r, 1000));
      const { ok, failed } = await load.stop();
      if (process.env.TEST_LOGS) console.log(`failover: ${ok} calls answered, ${failed} failed during the failover`);
      expect(ok).toBeGreaterThan(0);
      await assertInvariants();
      // The registry serves the failed-over slots again.
      await waitFor(async () => (await a.admit(rec('u0', 'after', 'node-a'), 10).then(() => true, () => false)), 10_000, 'admission after failover');
      expect(await a.countByUser('u0')).toBeLessThanOrEqual(LIMIT + 1);
    });

    it('holds them when the primary of the lease table is killed (-9) and its replica takes over', async () => {
      const [a, b] = [await node('node-a', 6000), await node('node-b', 6000)];
      const resynced = new Promise<void>((resolve) => a.onResync(() => resolve()));
      const load = traffic([a, b], 11);
      await new Promise((r) => setTimeout(r, 500));
      await cluster.kill(await cluster.primaryOf(keys.leases()));
      // cluster-node-timeout is 2 s: the replica is promoted a few seconds later.
      await cluster.waitUntilHealthy();
      await new Promise((r) => setTimeout(r, 1500));
      const { ok, failed } = await load.stop();
      if (process.env.TEST_LOGS) console.log(`kill: ${ok} calls answered, ${failed} failed during the failover`);
      expect(ok).toBeGreaterThan(0);
      await assertInvariants();
      // A shard failed over: the registry asks its instance to re-register what it holds.
      await resynced;
      await waitFor(async () => (await b.admit(rec('u1', 'after', 'node-b'), 10).then(() => true, () => false)), 10_000, 'admission after failover');
      expect((await raw.zrange(keys.leases(), 0, -1)).sort()).toEqual(['node-a', 'node-b']);
    });
  });
});
