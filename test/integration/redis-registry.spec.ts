import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RegistryUnavailableError } from '../../src/errors/registry-unavailable.error.js';
import { resolveWsManagerOptions } from '../../src/config/ws-manager.schema.js';
import { createManagerRegistry } from '../../src/registry/create-manager-registry.js';
import type { EvictionRequest } from '../../src/registry/manager-registry.interface.js';
import { RedisKeys, RedisManagerRegistry } from '../../src/registry/redis/index.js';
import { deleteKeys, REDIS_URL, RedisServerProcess, requireRedis, startRedisRegistry, uniquePrefix } from '../support/redis.js';
import { managerRecord } from '../support/fixtures.js';
import { waitFor } from '../support/socket-harness.js';

const rec = managerRecord;

describe('RedisManagerRegistry', () => {
  let keyPrefix: string;
  let keys: RedisKeys;
  let raw: Redis;
  /** Milliseconds left on a node's lease, by the lease table (`null`: not in it). */
  const leaseLeft = async (nodeId: string) => {
    const score = await raw.zscore(keys.leases(), nodeId);
    return score === null ? null : Number(score) - Date.now();
  };
  const open: RedisManagerRegistry[] = [];

  async function node(nodeId: string, leaseTtlMs = 15_000, reapBatch?: number): Promise<RedisManagerRegistry> {
    const registry = await startRedisRegistry(nodeId, { keyPrefix, leaseTtlMs, ...(reapBatch ? { reapBatch } : {}) });
    open.push(registry);
    return registry;
  }

  beforeAll(async () => {
    await requireRedis();
    raw = new Redis(REDIS_URL);
  });

  afterAll(() => {
    raw.disconnect();
  });

  beforeEach(() => {
    keyPrefix = uniquePrefix();
    keys = new RedisKeys(keyPrefix);
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((r) => r.close()));
    await deleteKeys(keyPrefix);
  });

  describe('createManagerRegistry', () => {
    it("builds and starts the Redis registry for registry: 'redis'", async () => {
      const options = resolveWsManagerOptions({ registry: 'redis', redisUrl: REDIS_URL, redisKeyPrefix: keyPrefix, nodeId: 'node-f', leaseTtlMs: 4000 });
      const registry = await createManagerRegistry(options);
      try {
        expect(registry.kind).toBe('redis');
        expect(await registry.ping()).toBe(true);
        expect(await leaseLeft('node-f')).toBeGreaterThan(3000);
      } finally {
        await registry.close();
      }
    });
  });

  describe('data layout', () => {
    it('keeps the documented keys in step', async () => {
      const a = await node('node-a');
      const record = rec('alice', 'main', 'node-a');
      await a.admit(record, 5);
      expect(keys.userManagers('alice')).toBe(`${keyPrefix}{u:alice}:m`);
      expect(JSON.parse((await raw.hget(keys.userManagers('alice'), record.managerId))!)).toEqual(record);
      expect(await raw.hget(keys.userContexts('alice'), 'main')).toBe(record.managerId);
      expect(await raw.smembers(keys.node('node-a'))).toEqual([JSON.stringify(['alice', record.managerId])]);
      expect(await raw.zrange(keys.leases(), 0, -1)).toEqual(['node-a']);
      expect(await leaseLeft('node-a')).toBeGreaterThan(10_000);
      expect(await a.leases()).toEqual([{ nodeId: 'node-a', remainingMs: expect.any(Number) }]);
      expect((await a.leases())[0]!.remainingMs).toBeGreaterThan(10_000);
      await a.remove('alice', record.managerId);
      expect(await raw.exists(keys.userManagers('alice'), keys.userContexts('alice'), keys.node('node-a'))).toBe(0);
    });
  });

  describe('lease lapse', () => {
    it('a tick that finds its lease gone (expired while frozen) calls the resync handlers', async () => {
      const a = await node('node-a', 1000);
      const resynced = new Promise<void>((resolve) => a.onResync(() => resolve()));
      // What a SIGSTOP past the TTL leaves behind: the lease expired and another node reaped it.
      await raw.zrem(keys.leases(), 'node-a');
      await resynced;
      expect(await leaseLeft('node-a')).toBeGreaterThan(0);
    });

    it('a tick that finds its deadline passed calls the resync handlers', async () => {
      const a = await node('node-a', 1000);
      const resynced = new Promise<void>((resolve) => a.onResync(() => resolve()));
      await raw.zadd(keys.leases(), Date.now() - 1, 'node-a');
      await resynced;
      expect(await leaseLeft('node-a')).toBeGreaterThan(0);
    });

    it('a tick that finds another holder of its lease calls the resync handlers', async () => {
      const a = await node('node-a', 1000);
      const resynced = new Promise<void>((resolve) => a.onResync(() => resolve()));
      await raw.hset(keys.leaseTokens(), 'node-a', 'someone-else');
      await resynced;
      expect(await raw.hget(keys.leaseTokens(), 'node-a')).not.toBe('someone-else');
    });

    it('an admission on a lapsed lease renews it, triggers a resync, then admits', async () => {
      const a = await node('node-a', 1000);
      let resyncs = 0;
      a.onResync(() => resyncs++);
      // A frozen process: no timer runs for longer than the lease, then the first thing it does
      // is an admission (called in the same turn, before any timer gets a chance).
      const frozenUntil = Date.now() + 1300;
      while (Date.now() < frozenUntil) {
        // busy: the event loop is blocked, as under SIGSTOP
      }
      expect(await leaseLeft('node-a')).toBeLessThanOrEqual(0);
      const admitted = a.admit(rec('alice', 'one', 'node-a'), 5);
      expect((await admitted).admitted).toBe(true);
      expect(resyncs).toBe(1);
      expect(await leaseLeft('node-a')).toBeGreaterThan(0);
      expect(await a.countByUser('alice')).toBe(1);
    });
  });

  describe('#admit of a registered managerId', () => {
    it('confirms it without counting it twice', async () => {
      const a = await node('node-a');
      const record = rec('alice', 'one', 'node-a');
      await a.admit(record, 2);
      expect(await a.admit(record, 2)).toEqual({ admitted: false, active: 1, existing: record });
      expect(await a.countByUser('alice')).toBe(1);
    });

    it('drops it when the user is over the limit (instances admitted while cut off), so its holder evicts it', async () => {
      const [a, b] = [await node('node-a'), await node('node-b')];
      const mine = [rec('alice', 'a1', 'node-a'), rec('alice', 'a2', 'node-a')];
      for (const r of mine) await a.admit(r, 2);
      // node-b admitted two more while node-a's entries did not count (a lapsed lease).
      for (const r of [rec('alice', 'b1', 'node-b'), rec('alice', 'b2', 'node-b')]) {
        await raw.hset(keys.userManagers('alice'), r.managerId, JSON.stringify(r));
        await raw.hset(keys.userContexts('alice'), r.context, r.managerId);
      }
      expect(await b.countByUser('alice')).toBe(4);
      expect(await a.admit(mine[0]!, 2)).toEqual({ admitted: false, active: 3 });
      expect(await a.admit(mine[1]!, 2)).toEqual({ admitted: false, active: 2 });
      expect(await a.get('alice', mine[0]!.managerId)).toBeNull();
      expect(await raw.hget(keys.userContexts('alice'), 'a1')).toBeNull();
    });
  });

  describe('leases', () => {
    it('keeps a live node counting past its lease ttl', async () => {
      const a = await node('node-a', 1000);
      for (let i = 0; i < 3; i++) await a.admit(rec('alice', `c${i}`, 'node-a'), 5);
      await new Promise((r) => setTimeout(r, 2500));
      expect(await a.countByUser('alice')).toBe(3);
    });

    it('stops counting a silent node within its lease ttl and reaps its entries', async () => {
      const survivor = await node('survivor', 1500);
      // Its own connection, cut without a word: no release, no goodbye, exactly as kill -9 would.
      const connection = new Redis(REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
      const doomed = new RedisManagerRegistry({ client: connection, keyPrefix, leaseTtlMs: 1000 });
      await doomed.start('doomed');
      open.push(doomed);
      for (let i = 0; i < 5; i++) await doomed.admit(rec('alice', `d${i}`, 'doomed'), 5);
      expect((await survivor.admit(rec('alice', 'late', 'survivor'), 5)).admitted).toBe(false);

      connection.disconnect(false);
      // The lease expires at most 1000 ms after the last refresh; the survivor sees it at its next tick (500 ms).
      await waitFor(async () => (await survivor.countByUser('alice')) === 0, 1000 + 500 + 2000, 'dead node to stop counting');
      for (let i = 0; i < 5; i++) expect((await survivor.admit(rec('alice', `s${i}`, 'survivor'), 5)).admitted).toBe(true);

      // admit dropped alice's dead entries; the survivor's lease tick reaps the node set, then
      // forgets the node once it has been dead a whole lease (1500 ms).
      await waitFor(async () => (await raw.zrange(keys.leases(), 0, -1)).join() === 'survivor', 5000, 'reaper');
      expect(await raw.exists(keys.node('doomed'))).toBe(0);
      expect(await raw.hlen(keys.userManagers('alice'))).toBe(5);
    });

    it('gives a node with entries but missing from the lease table (its data lost) one lease, then reaps it', async () => {
      // A node that admitted and died (its connection cut without a word, as kill -9 would)...
      const connection = new Redis(REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
      const ghost = new RedisManagerRegistry({ client: connection, keyPrefix, leaseTtlMs: 60_000 });
      await ghost.start('ghost');
      open.push(ghost);
      for (let i = 0; i < 2; i++) await ghost.admit(rec('bob', `g${i}`, 'ghost'), 2);
      connection.disconnect(false);
      // ...and the lease table lost its row: a node it does not know counts as alive.
      await raw.zrem(keys.leases(), 'ghost');
      await raw.hdel(keys.leaseTokens(), 'ghost');
      const survivor = await node('survivor', 600);
      expect(await survivor.countByUser('bob')).toBe(2);

      expect(await survivor.adoptUnknownNodes(['ghost', 'survivor'])).toEqual(['ghost']);
      expect(await survivor.adoptUnknownNodes(['ghost']), 'only a node the table does not know').toEqual([]);
      expect(await leaseLeft('ghost')).toBeGreaterThan(300);
      expect(await survivor.countByUser('bob'), 'counted while its lease runs').toBe(2);

      await waitFor(async () => (await survivor.countByUser('bob')) === 0, 600 + 200 + 2000, 'the lease it was given to lapse');
      await waitFor(async () => !(await raw.zrange(keys.leases(), 0, -1)).includes('ghost'), 5000, 'reaped, then forgotten');
      expect(await raw.exists(keys.node('ghost'))).toBe(0);
      expect(await raw.hlen(keys.userManagers('bob'))).toBe(0);
    });

    it('stops counting a node that stops gracefully at once, not a lease ttl later', async () => {
      const survivor = await node('survivor', 60_000);
      const leaving = await node('leaving', 60_000);
      for (let i = 0; i < 3; i++) await leaving.admit(rec('alice', `l${i}`, 'leaving'), 3);
      expect(await survivor.countByUser('alice')).toBe(3);
      await leaving.close();
      // The survivor's next tick is 20 s away: only the goodbye on the presence channel can do this.
      await waitFor(async () => (await survivor.countByUser('alice')) === 0, 2000, 'goodbye');
      expect((await survivor.admit(rec('alice', 'mine', 'survivor'), 3)).admitted).toBe(true);
    });

    it('counts a node again at once when it comes back with the same id (a restart)', async () => {
      const survivor = await node('survivor', 60_000);
      await (await node('node-x', 60_000)).close();
      await waitFor(async () => {
        // The survivor's view: node-x is dead (its goodbye), so an entry of node-x does not count.
        await raw.hset(keys.userManagers('probe'), 'p', JSON.stringify(rec('probe', 'p', 'node-x')));
        return (await survivor.countByUser('probe')) === 0;
      }, 2000, 'goodbye');
      const again = await node('node-x', 60_000);
      expect((await again.admit(rec('alice', 'one', 'node-x'), 5)).admitted).toBe(true);
      // The survivor's next tick is 20 s away: only the hello on the presence channel can do this.
      await waitFor(async () => (await survivor.countByUser('alice')) === 1, 2000, 'hello');
      expect((await survivor.admit(rec('alice', 'one', 'survivor'), 5)).existing?.nodeId).toBe('node-x');
    });

    it('reaps at most reapBatch entries of dead nodes per tick', async () => {
      const doomed = await node('doomed');
      for (let i = 0; i < 25; i++) await doomed.admit(rec(`u${i}`, 'c', 'doomed'), 5);
      await doomed.close();
      // start() runs one tick (which reaps one batch); the next one is leaseTtl/3 = 10 s away.
      await node('reaper', 30_000, 10);
      await waitFor(async () => (await raw.scard(keys.node('doomed'))) === 15, 3000, 'one batch reaped');
      await new Promise((r) => setTimeout(r, 300));
      expect(await raw.scard(keys.node('doomed'))).toBe(15);
      const userKeys = Array.from({ length: 25 }, (_, i) => keys.userManagers(`u${i}`));
      expect(await raw.exists(...userKeys)).toBe(15);
    });
  });

  describe('#requestEviction', () => {
    it('reaches only the owning node, and the requester frees the slot once', async () => {
      const a = await node('node-a');
      const b = await node('node-b');
      const record = rec('alice', 'main', 'node-b');
      await b.admit(record, 1);
      const atA: EvictionRequest[] = [];
      const atB: EvictionRequest[] = [];
      a.onEvictionRequest((r) => atA.push(r));
      b.onEvictionRequest((r) => atB.push(r));

      await a.requestEviction({ record, level: 'force', reason: 'least_recently_active', requestedBy: 'node-a' });
      await waitFor(() => atB.length === 1, 2000, 'eviction at owner');
      expect(atA).toEqual([]);
      // Requester and owner may both try to remove; exactly one succeeds.
      expect(await Promise.all([a.remove('alice', record.managerId), b.remove('alice', record.managerId)])).toEqual(
        expect.arrayContaining([true, false]),
      );
      expect((await a.admit(rec('alice', 'new', 'node-a'), 1)).admitted).toBe(true);
    });
  });

  describe('Redis outage', () => {
    let server: RedisServerProcess;

    beforeAll(async () => {
      server = await RedisServerProcess.start();
    });

    afterAll(async () => {
      server.pause(false);
      await server.kill();
    });

    async function isolated(nodeId: string): Promise<RedisManagerRegistry> {
      const registry = new RedisManagerRegistry({ url: server.url, keyPrefix, leaseTtlMs: 3000 });
      await registry.start(nodeId);
      open.push(registry);
      return registry;
    }

    async function rejectsFast(what: string, call: () => Promise<unknown>): Promise<void> {
      const started = Date.now();
      const error = await call().then(
        () => null,
        (e: unknown) => e,
      );
      const elapsedMs = Date.now() - started;
      // One object so that a failure names the method and shows both facts.
      expect({ what, unavailable: error instanceof RegistryUnavailableError, fast: elapsedMs < 2000 }).toEqual({ what, unavailable: true, fast: true });
    }

    it('rejects every method promptly while down, then reconnects and re-registers within the limit', async () => {
      const a = await isolated('node-a');
      const held = [rec('alice', 'one', 'node-a'), rec('alice', 'two', 'node-a'), rec('alice', 'three', 'node-a')];
      for (const r of held) await a.admit(r, 3);
      const reconnected = new Promise<void>((resolve) => a.onResync(() => resolve()));

      await server.kill();
      await waitFor(async () => !(await a.ping()), 2000, 'ping to turn false');
      await rejectsFast('admit', () => a.admit(rec('alice', 'four', 'node-a'), 3));
      await rejectsFast('get', () => a.get('alice', held[0]!.managerId));
      await rejectsFast('findByContext', () => a.findByContext('alice', 'one'));
      await rejectsFast('listByUser', () => a.listByUser('alice'));
      await rejectsFast('countByUser', () => a.countByUser('alice'));
      await rejectsFast('update', () => a.update('alice', held[0]!.managerId, { detachedAt: 1 }));
      await rejectsFast('remove', () => a.remove('alice', held[0]!.managerId));
      await rejectsFast('scanNode', () => a.scanNode('node-a', undefined, 10));
      await rejectsFast('requestEviction', () => a.requestEviction({ record: held[0]!, level: 'force', reason: 'x', requestedBy: 'node-a' }));

      // The new server is empty (no persistence); another node takes one of alice's slots first.
      await server.restart();
      await reconnected;
      expect(await a.ping()).toBe(true);
      const b = await isolated('node-b');
      expect((await b.admit(rec('alice', 'elsewhere', 'node-b'), 3)).admitted).toBe(true);

      // Re-registration goes through admit: a record already counted is confirmed, not added twice.
      const readmit = async () => {
        const kept: boolean[] = [];
        for (const r of held) {
          const result = await a.admit(r, 3);
          kept.push(result.admitted || result.existing?.managerId === r.managerId);
        }
        return kept;
      };
      expect(await readmit()).toEqual([true, true, false]);
      expect(await a.countByUser('alice')).toBe(3);
      expect(await readmit()).toEqual([true, true, false]);
      expect(await a.countByUser('alice')).toBe(3);

      // The eviction subscription came back with the connection.
      const evictions: EvictionRequest[] = [];
      a.onEvictionRequest((r) => evictions.push(r));
      await b.requestEviction({ record: held[0]!, level: 'force', reason: 'x', requestedBy: 'node-b' });
      await waitFor(() => evictions.length === 1, 2000, 'eviction after reconnect');
    });

    it('rejects within the command timeout when Redis hangs', async () => {
      const a = await isolated('node-a');
      server.pause(true);
      try {
        await rejectsFast('admit', () => a.admit(rec('alice', 'one', 'node-a'), 3));
        expect(await a.ping()).toBe(false);
      } finally {
        server.pause(false);
      }
      await waitFor(() => a.ping(), 3000, 'ping after resume');
    });

    it('fails start() with RegistryUnavailableError when Redis is unreachable', async () => {
      await server.kill();
      const registry = new RedisManagerRegistry({ url: server.url, keyPrefix });
      await expect(registry.start('node-a')).rejects.toBeInstanceOf(RegistryUnavailableError);
      await server.restart();
    });
  });
});
