import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RegistryUnavailableError } from '../../src/errors/registry-unavailable.error.js';
import { resolveWsManagerOptions } from '../../src/config/ws-manager.schema.js';
import { createManagerRegistry } from '../../src/registry/create-manager-registry.js';
import type { ManagerRecord } from '../../src/registry/manager-record.js';
import type { EvictionRequest } from '../../src/registry/manager-registry.interface.js';
import { RedisManagerRegistry } from '../../src/registry/redis/index.js';
import { deleteKeys, REDIS_URL, RedisServerProcess, requireRedis, startRedisRegistry, uniquePrefix } from '../support/redis.js';
import { waitFor } from '../support/socket-harness.js';

let seq = 0;
function rec(userId: string, context: string, nodeId: string): ManagerRecord {
  const now = Date.now();
  return { managerId: `m-${++seq}`, userId, context, nodeId, createdAt: now, lastActivityAt: now, detachedAt: null };
}

describe('RedisManagerRegistry', () => {
  let keyPrefix: string;
  let raw: Redis;
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
        expect(await raw.pttl(`${keyPrefix}lease:node-f`)).toBeGreaterThan(3000);
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
      expect(JSON.parse((await raw.hget(`${keyPrefix}user:alice:m`, record.managerId))!)).toEqual(record);
      expect(await raw.hget(`${keyPrefix}user:alice:ctx`, 'main')).toBe(record.managerId);
      expect(await raw.smembers(`${keyPrefix}node:node-a:m`)).toEqual([JSON.stringify(['alice', record.managerId])]);
      expect(await raw.smembers(`${keyPrefix}nodes`)).toEqual(['node-a']);
      const ttl = await raw.pttl(`${keyPrefix}lease:node-a`);
      expect(ttl).toBeGreaterThan(10_000);
      await a.remove('alice', record.managerId);
      expect(await raw.exists(`${keyPrefix}user:alice:m`, `${keyPrefix}user:alice:ctx`, `${keyPrefix}node:node-a:m`)).toBe(0);
    });
  });

  describe('lease lapse', () => {
    it('a tick that finds its lease gone (expired while frozen) calls the resync handlers', async () => {
      const a = await node('node-a', 1000);
      const resynced = new Promise<void>((resolve) => a.onResync(() => resolve()));
      // What a SIGSTOP past the TTL leaves behind: the lease expired; another node may have reaped.
      await raw.del(`${keyPrefix}lease:node-a`);
      await resynced;
      expect(await raw.get(`${keyPrefix}lease:node-a`)).not.toBeNull();
    });

    it('a tick that finds another holder in its lease key calls the resync handlers', async () => {
      const a = await node('node-a', 1000);
      const resynced = new Promise<void>((resolve) => a.onResync(() => resolve()));
      await raw.set(`${keyPrefix}lease:node-a`, 'someone-else', 'PX', 5000);
      await resynced;
    });

    it('an admission on a lapsed lease renews it, triggers a resync, then admits', async () => {
      const a = await node('node-a', 60_000);
      let resyncs = 0;
      a.onResync(() => resyncs++);
      await raw.del(`${keyPrefix}lease:node-a`);
      expect((await a.admit(rec('alice', 'one', 'node-a'), 5)).admitted).toBe(true);
      expect(resyncs).toBe(1);
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
        await raw.hset(`${keyPrefix}user:alice:m`, r.managerId, JSON.stringify(r));
        await raw.hset(`${keyPrefix}user:alice:ctx`, r.context, r.managerId);
      }
      expect(await b.countByUser('alice')).toBe(4);
      expect(await a.admit(mine[0]!, 2)).toEqual({ admitted: false, active: 3 });
      expect(await a.admit(mine[1]!, 2)).toEqual({ admitted: false, active: 2 });
      expect(await a.get('alice', mine[0]!.managerId)).toBeNull();
      expect(await raw.hget(`${keyPrefix}user:alice:ctx`, 'a1')).toBeNull();
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
      const doomed = await node('doomed', 1000);
      for (let i = 0; i < 5; i++) await doomed.admit(rec('alice', `d${i}`, 'doomed'), 5);
      expect((await survivor.admit(rec('alice', 'late', 'survivor'), 5)).admitted).toBe(false);

      // close() leaves the entries behind, exactly as kill -9 would: only the lease refresh stops.
      await doomed.close();
      const stopped = Date.now();
      await waitFor(async () => (await survivor.countByUser('alice')) === 0, 3000, 'dead node to stop counting');
      // The lease expires at most 1000 ms after the last refresh; the rest is polling slack.
      expect(Date.now() - stopped).toBeLessThan(1500);
      for (let i = 0; i < 5; i++) expect((await survivor.admit(rec('alice', `s${i}`, 'survivor'), 5)).admitted).toBe(true);

      // admit dropped alice's dead entries; the survivor's lease tick reaps the node set itself.
      await waitFor(async () => (await raw.smembers(`${keyPrefix}nodes`)).join() === 'survivor', 3000, 'reaper');
      expect(await raw.exists(`${keyPrefix}node:doomed:m`)).toBe(0);
      expect(await raw.hlen(`${keyPrefix}user:alice:m`)).toBe(5);
    });

    it('reaps at most reapBatch entries of dead nodes per tick', async () => {
      const doomed = await node('doomed');
      for (let i = 0; i < 25; i++) await doomed.admit(rec(`u${i}`, 'c', 'doomed'), 5);
      await doomed.close();
      await raw.del(`${keyPrefix}lease:doomed`);
      // start() runs one tick; the next one is leaseTtl/3 = 10 s away.
      await node('reaper', 30_000, 10);
      expect(await raw.scard(`${keyPrefix}node:doomed:m`)).toBe(15);
      const userKeys = Array.from({ length: 25 }, (_, i) => `${keyPrefix}user:u${i}:m`);
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
