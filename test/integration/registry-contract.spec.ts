import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { InMemoryManagerRegistry } from '../../src/registry/in-memory-manager.registry.js';
import type { ManagerRecord } from '../../src/registry/manager-record.js';
import type { EvictionRequest, ManagerRegistry } from '../../src/registry/manager-registry.interface.js';
import { RedisManagerRegistry } from '../../src/registry/redis/index.js';
import { deleteKeys, requireRedis, startRedisRegistry, uniquePrefix } from '../support/redis.js';
import { LocalRedisCluster } from '../support/redis-cluster.js';
import { waitFor } from '../support/socket-harness.js';

/** Two nodes' views of one registry: the same object in memory, two instances on one Redis or one cluster. */
interface RegistryPair {
  a: ManagerRegistry;
  b: ManagerRegistry;
  close(): Promise<void>;
}

// One local Redis Cluster (3 primaries, 3 replicas) for this file, started on first use.
let cluster: Promise<LocalRedisCluster> | undefined;
afterAll(async () => {
  if (cluster) await (await cluster).stop();
});

const implementations: { name: string; make(): Promise<RegistryPair> }[] = [
  {
    name: 'InMemoryManagerRegistry',
    async make() {
      const registry = new InMemoryManagerRegistry();
      await registry.start('node-a');
      return { a: registry, b: registry, close: () => registry.close() };
    },
  },
  {
    name: 'RedisManagerRegistry on a Redis Cluster',
    async make() {
      const local = await (cluster ??= LocalRedisCluster.start());
      const keyPrefix = uniquePrefix();
      const a = new RedisManagerRegistry({ url: local.url, keyPrefix });
      const b = new RedisManagerRegistry({ url: local.url, keyPrefix });
      await Promise.all([a.start('node-a'), b.start('node-b')]);
      return {
        a,
        b,
        async close() {
          await Promise.all([a.close(), b.close()]);
          await local.deleteKeys(keyPrefix);
        },
      };
    },
  },
  {
    name: 'RedisManagerRegistry',
    async make() {
      const keyPrefix = uniquePrefix();
      const a = await startRedisRegistry('node-a', { keyPrefix });
      const b = await startRedisRegistry('node-b', { keyPrefix });
      return {
        a,
        b,
        async close() {
          await Promise.all([a.close(), b.close()]);
          await deleteKeys(keyPrefix);
        },
      };
    },
  },
];

let seq = 0;
function rec(userId: string, context: string, nodeId = 'node-a', extra: Partial<ManagerRecord> = {}): ManagerRecord {
  const now = 1_700_000_000_000 + seq;
  return { managerId: `m-${++seq}-${context}`, userId, context, nodeId, createdAt: now, lastActivityAt: now, detachedAt: null, ...extra };
}

describe.each(implementations)('ManagerRegistry contract: $name', ({ name, make }) => {
  let pair: RegistryPair;
  let a: ManagerRegistry;
  let b: ManagerRegistry;

  beforeAll(async () => {
    if (name === 'RedisManagerRegistry') await requireRedis();
    if (name.includes('Cluster')) await (cluster ??= LocalRedisCluster.start());
  });

  beforeEach(async () => {
    pair = await make();
    ({ a, b } = pair);
  });

  afterEach(async () => {
    await pair.close();
  });

  describe('#admit', () => {
    it('admits under the limit and reports the count', async () => {
      expect(await a.admit(rec('alice', 'one'), 3)).toEqual({ admitted: true, active: 1 });
      expect(await a.admit(rec('alice', 'two'), 3)).toEqual({ admitted: true, active: 2 });
    });

    it('returns the existing manager of a context without taking a slot', async () => {
      const first = rec('alice', 'main');
      await a.admit(first, 3);
      const result = await b.admit(rec('alice', 'main', 'node-b'), 3);
      expect(result).toEqual({ admitted: false, active: 1, existing: first });
      expect(await a.countByUser('alice')).toBe(1);
    });

    it('refuses at the limit', async () => {
      for (const context of ['x', 'y']) await a.admit(rec('alice', context), 2);
      expect(await b.admit(rec('alice', 'z', 'node-b'), 2)).toEqual({ admitted: false, active: 2 });
    });

    it('namespaces contexts by user', async () => {
      await a.admit(rec('alice', 'main'), 1);
      expect((await a.admit(rec('bob', 'main'), 1)).admitted).toBe(true);
    });

    it('never exceeds the limit under 50 concurrent admissions from two nodes', async () => {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => (i % 2 ? b : a).admit(rec('storm', `c${i}`, i % 2 ? 'node-b' : 'node-a'), 20)),
      );
      expect(results.filter((r) => r.admitted)).toHaveLength(20);
      expect(await a.countByUser('storm')).toBe(20);
      expect(await b.listByUser('storm')).toHaveLength(20);
    });

    it('admits one manager when many race for the same context', async () => {
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? b : a).admit(rec('race', 'same', i % 2 ? 'node-b' : 'node-a'), 20)));
      expect(results.filter((r) => r.admitted)).toHaveLength(1);
      const winner = results.find((r) => r.admitted);
      expect(winner).toBeDefined();
      expect(new Set(results.filter((r) => !r.admitted).map((r) => r.existing?.context))).toEqual(new Set(['same']));
      expect(await a.countByUser('race')).toBe(1);
    });
  });

  describe('#get / #findByContext', () => {
    it('returns copies of stored records, or null', async () => {
      const record = rec('alice', 'main');
      await a.admit(record, 5);
      expect(await b.get('alice', record.managerId)).toEqual(record);
      expect(await b.findByContext('alice', 'main')).toEqual(record);
      expect(await a.get('alice', 'nope')).toBeNull();
      expect(await a.findByContext('alice', 'other')).toBeNull();
      expect(await a.findByContext('bob', 'main')).toBeNull();
    });
  });

  describe('#listByUser / #countByUser', () => {
    it('covers one user only, across nodes', async () => {
      await a.admit(rec('alice', 'one'), 5);
      await b.admit(rec('alice', 'two', 'node-b'), 5);
      await a.admit(rec('bob', 'one'), 5);
      expect((await a.listByUser('alice')).map((r) => r.context).sort()).toEqual(['one', 'two']);
      expect(await b.countByUser('alice')).toBe(2);
      expect(await a.countByUser('bob')).toBe(1);
      expect(await a.countByUser('carol')).toBe(0);
      expect(await a.listByUser('carol')).toEqual([]);
    });
  });

  describe('#update', () => {
    it('patches owner-reported fields and ignores missing records', async () => {
      const record = rec('alice', 'main');
      await a.admit(record, 5);
      await a.update('alice', record.managerId, { detachedAt: 1_700_000_123_456, lastActivityAt: 1_700_000_100_000 });
      expect(await b.get('alice', record.managerId)).toEqual({ ...record, detachedAt: 1_700_000_123_456, lastActivityAt: 1_700_000_100_000 });
      await a.update('alice', record.managerId, { detachedAt: null });
      expect((await a.get('alice', record.managerId))?.detachedAt).toBeNull();
      await expect(a.update('alice', 'missing', { detachedAt: 1 })).resolves.toBeUndefined();
      expect(await a.countByUser('alice')).toBe(1);
    });
  });

  describe('#remove', () => {
    it('is true for exactly one of many concurrent removals and frees one slot', async () => {
      const records = [rec('alice', 'one'), rec('alice', 'two')];
      for (const r of records) await a.admit(r, 2);
      const target = records[0]!;
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? b : a).remove('alice', target.managerId)));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await a.countByUser('alice')).toBe(1);
      expect(await a.findByContext('alice', 'one')).toBeNull();
      expect((await b.admit(rec('alice', 'one', 'node-b'), 2)).admitted).toBe(true);
      expect((await b.admit(rec('alice', 'three', 'node-b'), 2)).admitted).toBe(false);
    });

    it('is false for an unknown manager', async () => {
      expect(await a.remove('alice', 'missing')).toBe(false);
    });
  });

  describe('#scanNode', () => {
    it('pages through one node\'s records exactly', async () => {
      const onA: string[] = [];
      for (let i = 0; i < 25; i++) {
        const r = rec(`user-${i % 4}`, `c${i}`);
        onA.push(r.managerId);
        await a.admit(r, 100);
      }
      for (let i = 0; i < 5; i++) await b.admit(rec('user-0', `b${i}`, 'node-b'), 100);

      const seen = new Set<string>();
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await a.scanNode('node-a', cursor, 7);
        for (const r of page.records) {
          expect(r.nodeId).toBe('node-a');
          seen.add(r.managerId);
        }
        cursor = page.cursor;
        expect(++pages).toBeLessThan(50);
      } while (cursor !== undefined);
      expect([...seen].sort()).toEqual([...onA].sort());
      expect((await a.scanNode('node-none', undefined, 10)).records).toEqual([]);
    });
  });

  describe('#requestEviction', () => {
    it('delivers the request to the owner', async () => {
      const record = rec('alice', 'main', 'node-b');
      await b.admit(record, 5);
      const received: EvictionRequest[] = [];
      b.onEvictionRequest((request) => received.push(request));
      const request: EvictionRequest = { record, level: 'force', reason: 'least_recently_active', requestedBy: 'node-a' };
      await a.requestEviction(request);
      await waitFor(() => received.length > 0, 2000, 'eviction request');
      expect(received).toEqual([request]);
    });

    it('stops delivering after unsubscribe', async () => {
      const record = rec('alice', 'main', 'node-b');
      const received: EvictionRequest[] = [];
      const unsubscribe = b.onEvictionRequest((request) => received.push(request));
      unsubscribe();
      await a.requestEviction({ record, level: 'force', reason: 'x', requestedBy: 'node-a' });
      await new Promise((r) => setTimeout(r, 100));
      expect(received).toEqual([]);
    });
  });

  describe('#sendToNode', () => {
    it("reaches the addressed instance's handlers, and says how many listened", async () => {
      const received: string[] = [];
      const off = b.onNodeMessage!((message) => received.push(message));
      const target = a === b ? 'node-a' : 'node-b';
      expect(await a.sendToNode!(target, 'hello ✓')).toBe(1);
      await waitFor(() => received.length > 0, 2000, 'node message');
      expect(received).toEqual(['hello ✓']);
      off();
      expect(await a.sendToNode!('node-nobody', 'lost')).toBe(0);
    });
  });

  describe('#ping', () => {
    it('is true while the registry is reachable', async () => {
      expect(await a.ping()).toBe(true);
    });
  });
});
