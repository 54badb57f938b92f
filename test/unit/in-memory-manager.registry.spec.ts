import { beforeEach, describe, expect, it, vi } from 'vitest';
import { InMemoryManagerRegistry, type EvictionRequest, type ManagerRecord } from '../../src/index.js';

const rec = (i: number, overrides: Partial<ManagerRecord> = {}): ManagerRecord => ({
  managerId: `m-${i}`,
  userId: `u-${i % 3}`,
  context: `c-${i}`,
  nodeId: 'node-a',
  createdAt: i,
  lastActivityAt: i,
  detachedAt: null,
  ...overrides,
});

async function scanAll(registry: InMemoryManagerRegistry, nodeId: string, count: number, between?: (seen: readonly string[]) => Promise<void>) {
  const seen: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await registry.scanNode(nodeId, cursor, count);
    expect(page.records.length).toBeLessThanOrEqual(count);
    seen.push(...page.records.map((r) => r.managerId));
    cursor = page.cursor;
    pages++;
    if (between) await between(seen);
  } while (cursor !== undefined);
  return { seen, pages };
}

describe('InMemoryManagerRegistry', () => {
  let registry: InMemoryManagerRegistry;

  beforeEach(async () => {
    registry = new InMemoryManagerRegistry();
    await registry.start();
  });

  describe('#admit', () => {
    it('admits up to the limit per user and returns an existing context instead of adding', async () => {
      expect(await registry.admit(rec(0, { userId: 'u' }), 2)).toEqual({ admitted: true, active: 1 });
      expect(await registry.admit(rec(1, { userId: 'u' }), 2)).toEqual({ admitted: true, active: 2 });
      expect(await registry.admit(rec(2, { userId: 'u' }), 2)).toEqual({ admitted: false, active: 2 });
      const again = await registry.admit(rec(9, { userId: 'u', context: 'c-0' }), 2);
      expect(again).toMatchObject({ admitted: false, active: 2, existing: { managerId: 'm-0' } });
      expect(await registry.admit(rec(3, { userId: 'other' }), 2)).toEqual({ admitted: true, active: 1 });
    });

    it('never exceeds the limit under concurrent admissions', async () => {
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => registry.admit(rec(i, { userId: 'u' }), 7)));
      expect(results.filter((r) => r.admitted)).toHaveLength(7);
      expect(await registry.countByUser('u')).toBe(7);
    });

    it('hands out copies, not its own records', async () => {
      await registry.admit(rec(0), 5);
      const copy = (await registry.get('u-0', 'm-0'))!;
      copy.lastActivityAt = 999;
      expect((await registry.get('u-0', 'm-0'))!.lastActivityAt).toBe(0);
    });
  });

  describe('#remove', () => {
    it('returns true only for the call that removed the record', async () => {
      await registry.admit(rec(0), 5);
      const results = await Promise.all([registry.remove('u-0', 'm-0'), registry.remove('u-0', 'm-0')]);
      expect(results.sort()).toEqual([false, true]);
      expect(await registry.remove('u-0', 'm-0')).toBe(false);
      expect(await registry.remove('nobody', 'm-0')).toBe(false);
      expect(await registry.findByContext('u-0', 'c-0')).toBeNull();
      expect(await registry.countByUser('u-0')).toBe(0);
    });

    it('frees the context and the slot for a new manager', async () => {
      await registry.admit(rec(0, { userId: 'u' }), 1);
      await registry.remove('u', 'm-0');
      expect(await registry.admit(rec(1, { userId: 'u', context: 'c-0' }), 1)).toEqual({ admitted: true, active: 1 });
    });
  });

  describe('#update', () => {
    it('patches owner fields and ignores missing records', async () => {
      await registry.admit(rec(0), 5);
      await registry.update('u-0', 'm-0', { detachedAt: 42, lastActivityAt: 7 });
      expect(await registry.get('u-0', 'm-0')).toMatchObject({ detachedAt: 42, lastActivityAt: 7 });
      await expect(registry.update('u-0', 'missing', { detachedAt: 1 })).resolves.toBeUndefined();
    });
  });

  describe('#scanNode', () => {
    it('pages through one node only', async () => {
      for (let i = 0; i < 25; i++) await registry.admit(rec(i, { nodeId: i % 5 === 0 ? 'node-b' : 'node-a' }), 100);
      const { seen, pages } = await scanAll(registry, 'node-a', 7);
      expect(seen.sort()).toEqual(Array.from({ length: 25 }, (_, i) => i).filter((i) => i % 5 !== 0).map((i) => `m-${i}`).sort());
      expect(pages).toBe(3);
      expect(await registry.scanNode('node-z', undefined, 10)).toEqual({ records: [] });
    });

    it('visits each record at most once and skips those removed during the scan', async () => {
      for (let i = 0; i < 30; i++) await registry.admit(rec(i), 100);
      const removed = new Set<string>();
      let added = 100;
      const { seen } = await scanAll(registry, 'node-a', 5, async (visited) => {
        // After each page, remove two records not yet visited and add one (which, as with Redis
        // SSCAN, a scan may or may not return).
        const pending = Array.from({ length: 30 }, (_, i) => i).filter((i) => !visited.includes(`m-${i}`) && !removed.has(`m-${i}`));
        for (const i of pending.filter((_, k) => k % 2 === 1).slice(0, 2)) {
          expect(await registry.remove(`u-${i % 3}`, `m-${i}`)).toBe(true);
          removed.add(`m-${i}`);
        }
        await registry.admit(rec(added++), 1000);
      });
      expect(removed.size).toBeGreaterThanOrEqual(6);
      expect(new Set(seen).size).toBe(seen.length);
      for (const id of removed) expect(seen).not.toContain(id);
      const expected = Array.from({ length: 30 }, (_, i) => `m-${i}`).filter((id) => !removed.has(id));
      for (const id of expected) expect(seen).toContain(id);
      for (const id of seen) expect(expected.includes(id) || Number(id.slice(2)) >= 100, id).toBe(true);
    });

    it('restarts from the beginning on an unknown cursor', async () => {
      for (let i = 0; i < 4; i++) await registry.admit(rec(i), 100);
      const page = await registry.scanNode('node-a', 'no-such-cursor', 10);
      expect(page.records).toHaveLength(4);
      expect(page.cursor).toBeUndefined();
    });
  });

  describe('#requestEviction', () => {
    it('delivers requests to subscribers until they unsubscribe or the registry closes', async () => {
      const handler = vi.fn<(request: EvictionRequest) => void>();
      const unsubscribe = registry.onEvictionRequest(handler);
      const request = { record: rec(0), level: 'force', reason: 'forced', requestedBy: 'node-b' };
      await registry.requestEviction(request);
      expect(handler).toHaveBeenCalledWith(request);
      unsubscribe();
      await registry.requestEviction(request);
      expect(handler).toHaveBeenCalledTimes(1);
      const other = vi.fn<(request: EvictionRequest) => void>();
      registry.onEvictionRequest(other);
      await registry.close();
      await registry.requestEviction(request);
      expect(other).not.toHaveBeenCalled();
    });
  });
});
