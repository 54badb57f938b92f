import { afterEach, describe, expect, it } from 'vitest';
import { CleanupLevel, ContextBusyError, InMemoryManagerRegistry, InvalidContextError, ManagerLimitExceededError, type ManagerRecord, type WsManagerOptions } from '../../src/index.js';
import { admitMany, closeOf, recordEvents } from '../support/fixtures.js';
import { closedOnServer, destroyTcp, SocketHarness, waitFor, type SocketPair } from '../support/socket-harness.js';
import { createManagerTestBed, type ManagerTestBed } from '../support/testing-module.js';

describe('WebSocketManagerFactory', () => {
  let harness: SocketHarness;
  let bed: ManagerTestBed;

  async function setup(options: WsManagerOptions = {}): Promise<void> {
    harness = await SocketHarness.start();
    bed = await createManagerTestBed({ maxManagersPerUser: 5, probeTimeoutMs: 300, ...options });
  }

  afterEach(async () => {
    await bed.close();
    await harness.close();
  });

  function collect(pair: SocketPair, n: number): Promise<unknown[]> {
    const frames: unknown[] = [];
    return new Promise((resolve) =>
      pair.client.on('message', (raw) => {
        frames.push(JSON.parse(String(raw)));
        if (frames.length === n) resolve(frames);
      }),
    );
  }

  describe('#acquire', () => {
    it('gives up on a context other instances keep taking back, leaving the last holder in place (not nobody)', async () => {
      // Another instance takes the context back after each of the first two removals, then stops.
      let takeBacks = 2;
      let seq = 0;
      const takeBack = (registry: InMemoryManagerRegistry) => {
        const now = Date.now();
        const record: ManagerRecord = { managerId: `theirs-${seq++}`, userId: 'u', context: 'hot', nodeId: 'other-node', createdAt: now, lastActivityAt: now, detachedAt: null };
        registry.admitNow(record, 5);
      };
      class ContestedRegistry extends InMemoryManagerRegistry {
        override async remove(userId: string, managerId: string): Promise<boolean> {
          const removed = await super.remove(userId, managerId);
          if (removed && takeBacks-- > 0) takeBack(this);
          return removed;
        }
      }
      const registry = new ContestedRegistry();
      await setup({ registry });
      takeBack(registry);
      const pair = await harness.connect();
      await expect(bed.factory.acquire({ userId: 'u', context: 'hot', socket: pair.server })).rejects.toBeInstanceOf(ContextBusyError);
      // Two supersedes, each taken back; the third holder is left alone rather than removed for nothing.
      expect(await registry.findByContext('u', 'hot')).toMatchObject({ nodeId: 'other-node', managerId: 'theirs-2' });
      expect(bed.factory.listLocal('u')).toHaveLength(0);
    });

    it('creates a manager, registers it and emits created + attached', async () => {
      await setup();
      const recorder = recordEvents(bed);
      const pair = await harness.connect();
      const admission = await bed.factory.acquire({ userId: 'u', context: 'main', socket: pair.server });
      expect(admission).toMatchObject({ resumed: false, limit: 5, active: 1, cleanup: null });
      expect(admission.manager).toMatchObject({ userId: 'u', context: 'main', isConnected: true });
      expect(admission.connection.isOpen).toBe(true);
      expect(bed.factory.managerOfSocket(pair.server)).toBe(admission.manager);
      expect(await bed.registry.findByContext('u', 'main')).toMatchObject({ managerId: admission.manager.id, detachedAt: null });
      expect(recorder.events.map((e) => e.type)).toEqual(['created', 'attached']);
      recorder.stop();
    });

    it('a lifecycle listener that admits the same user during an admission waits for it (the lock is held throughout)', async () => {
      await setup();
      const second = await harness.connect();
      let inner: Promise<unknown> | undefined;
      const subscription = bed.lifecycle.listen((event) => {
        if (event.type === 'created' && event.context === 'first') inner = bed.factory.acquire({ userId: 'u', context: 'second', socket: second.server });
      });
      const first = await bed.factory.acquire({ userId: 'u', context: 'first', socket: (await harness.connect()).server });
      subscription.unsubscribe();
      expect(first.active).toBe(1);
      expect(await inner).toMatchObject({ active: 2, resumed: false });
      expect(await bed.registry.countByUser('u')).toBe(2);
    });

    it('makes a fresh context when none is given', async () => {
      await setup();
      const a = await bed.factory.acquire({ userId: 'u', socket: (await harness.connect()).server });
      const b = await bed.factory.acquire({ userId: 'u', socket: (await harness.connect()).server });
      expect(a.manager.context).toMatch(/^[A-Za-z0-9._:-]{1,64}$/);
      expect(a.manager.context).not.toBe(b.manager.context);
    });

    it.each(['', 'has space', 'x'.repeat(65), 'ünïcode', 'a/b'])('rejects the context %j with InvalidContextError', async (context) => {
      await setup();
      const pair = await harness.connect();
      await expect(bed.factory.acquire({ userId: 'u', context, socket: pair.server })).rejects.toBeInstanceOf(InvalidContextError);
      expect(await bed.registry.countByUser('u')).toBe(0);
    });

    it('re-attaches the same context without a new slot and replays buffered messages in order', async () => {
      await setup();
      const first = await harness.connect();
      const created = await bed.factory.acquire({ userId: 'u', context: 'main', socket: first.server });
      await bed.factory.release(first.server);
      expect(created.manager.isConnected).toBe(false);
      for (let i = 1; i <= 3; i++) expect(created.manager.send('news', { i })).toBe(0);

      const recorder = recordEvents(bed);
      const second = await harness.connect();
      const resumed = await bed.factory.acquire({ userId: 'u', context: 'main', socket: second.server });
      expect(resumed).toMatchObject({ resumed: true, active: 1, cleanup: null });
      expect(resumed.manager).toBe(created.manager);
      expect(recorder.events).toContainEqual(expect.objectContaining({ type: 'resumed', managerId: created.manager.id, replayed: 3 }));
      recorder.stop();

      const frames = collect(second, 3);
      expect(resumed.manager.replayTo(resumed.connection)).toBe(3);
      expect(await frames).toEqual([1, 2, 3].map((i) => ({ event: 'news', data: { i } })));
      expect(resumed.manager.bufferedCount).toBe(0);
      expect(await bed.registry.countByUser('u')).toBe(1);
    });

    it('keeps at most resumeBuffer messages, dropping the oldest', async () => {
      await setup({ resumeBuffer: 3 });
      const first = await harness.connect();
      const { manager } = await bed.factory.acquire({ userId: 'u', context: 'main', socket: first.server });
      await bed.factory.release(first.server);
      for (let i = 1; i <= 5; i++) manager.send('n', i);
      expect(manager.bufferedCount).toBe(3);
      const second = await harness.connect();
      const resumed = await bed.factory.acquire({ userId: 'u', context: 'main', socket: second.server });
      const frames = collect(second, 3);
      resumed.manager.replayTo(resumed.connection);
      expect(await frames).toEqual([3, 4, 5].map((data) => ({ event: 'n', data })));
    });

    it('supersedes the oldest connection beyond maxConnectionsPerManager with close 4002 SUPERSEDED', async () => {
      await setup({ maxConnectionsPerManager: 2 });
      const pairs = await harness.connectMany(3);
      const closed = closeOf(pairs[0]!);
      const recorder = recordEvents(bed);
      const admissions = [];
      for (const p of pairs) admissions.push(await bed.factory.acquire({ userId: 'u', context: 'main', socket: p.server }));
      expect(await closed).toEqual({ code: 4002, reason: 'SUPERSEDED' });
      expect(admissions[2]!.manager.connections.size).toBe(2);
      expect(bed.factory.connectionOf(pairs[0]!.server)).toBeUndefined();
      expect(recorder.events).toContainEqual(expect.objectContaining({ type: 'superseded', connectionId: admissions[0]!.connection.id }));
      recorder.stop();
      expect(pairs[1]!.client.readyState).toBe(pairs[1]!.client.OPEN);
    });

    it('with emergencyCleanup:false throws ManagerLimitExceededError at once, cleaning nothing', async () => {
      await setup();
      const pairs = await admitMany(bed, harness, 'u', 5);
      destroyTcp(pairs[0]!.client);
      await closedOnServer(pairs[0]!);
      const extra = await harness.connect();
      const refused = bed.factory.acquire({ userId: 'u', context: 'six', socket: extra.server, emergencyCleanup: false });
      await expect(refused).rejects.toBeInstanceOf(ManagerLimitExceededError);
      await expect(refused).rejects.toMatchObject({ limit: 5, active: 5, cleanup: null });
      expect(bed.factory.get(pairs[0]!.admission.manager.id)).toBeDefined();
    });

    it('admits exactly the limit under 40 concurrent acquisitions for one user', async () => {
      await setup({ maxManagersPerUser: 20, maxCleanupLevel: CleanupLevel.Moderate });
      const pairs = await harness.connectMany(40);
      const results = await Promise.allSettled(pairs.map((p, i) => bed.factory.acquire({ userId: 'u', context: `c-${i}`, socket: p.server })));
      const admitted = results.filter((r) => r.status === 'fulfilled');
      const rejected = results.filter((r) => r.status === 'rejected');
      expect(admitted).toHaveLength(20);
      expect(rejected).toHaveLength(20);
      for (const r of rejected) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(ManagerLimitExceededError);
      expect(await bed.registry.countByUser('u')).toBe(20);
      expect(bed.factory.listLocal('u')).toHaveLength(20);
    }, 60_000);

    it('keeps users apart: the same context names meet nothing, one user at the limit does not block another', async () => {
      await setup({ maxCleanupLevel: CleanupLevel.Force });
      const alice = await admitMany(bed, harness, 'alice', 5, { prefix: 'main' });
      const bob = await bed.factory.acquire({ userId: 'bob', context: 'main-0', socket: (await harness.connect()).server });
      expect(bob).toMatchObject({ resumed: false, active: 1 });
      expect(bob.manager.id).not.toBe(alice[0]!.admission.manager.id);

      await bed.cleanup.emergency('alice');
      expect(bed.factory.get(bob.manager.id)).toBe(bob.manager);
      expect(await bed.registry.countByUser('bob')).toBe(1);
      expect(await bed.registry.countByUser('alice')).toBe(4);
    });

    it('replaces a detached manager past the resume window with a new one', async () => {
      await setup({ resumeWindowMs: 1000 });
      const first = await harness.connect();
      const old = await bed.factory.acquire({ userId: 'u', context: 'main', socket: first.server });
      await bed.factory.release(first.server);
      old.manager.detachedAt = Date.now() - 5000;
      const fresh = await bed.factory.acquire({ userId: 'u', context: 'main', socket: (await harness.connect()).server });
      expect(fresh.resumed).toBe(false);
      expect(fresh.manager.id).not.toBe(old.manager.id);
      expect(bed.factory.get(old.manager.id)).toBeUndefined();
      expect(await bed.registry.listByUser('u')).toEqual([expect.objectContaining({ managerId: fresh.manager.id })]);
    });
  });

  describe('#release', () => {
    it('detaches the manager, stamps detachedAt in the registry and emits detached', async () => {
      await setup();
      const pair = await harness.connect();
      const { manager } = await bed.factory.acquire({ userId: 'u', context: 'main', socket: pair.server });
      const recorder = recordEvents(bed);
      const before = Date.now();
      await bed.factory.release(pair.server);
      expect(manager.isConnected).toBe(false);
      expect(manager.detachedAt).toBeGreaterThanOrEqual(before);
      await waitFor(async () => (await bed.registry.get('u', manager.id))?.detachedAt === manager.detachedAt, 5000, 'registry detachedAt');
      expect(recorder.events).toEqual([expect.objectContaining({ type: 'detached', managerId: manager.id })]);
      recorder.stop();
      await bed.factory.release(pair.server); // a second release is a no-op
      expect(bed.factory.get(manager.id)).toBe(manager);
    });
  });

  describe('#move', () => {
    it('moves a connection to another context and back, resuming the first', async () => {
      await setup();
      const pair = await harness.connect();
      const first = await bed.factory.acquire({ userId: 'u', context: 'one', socket: pair.server });
      const moved = await bed.factory.move(first.connection, 'two');
      expect(moved).toMatchObject({ resumed: false, active: 2 });
      expect(moved.connection).toBe(first.connection);
      expect(first.manager.isConnected).toBe(false);
      expect(bed.factory.managerOfSocket(pair.server)).toBe(moved.manager);

      const back = await bed.factory.move(first.connection, 'one');
      expect(back).toMatchObject({ resumed: true, active: 2 });
      expect(back.manager).toBe(first.manager);
      expect(moved.manager.isConnected).toBe(false);
      expect((await bed.factory.move(first.connection, 'one')).manager).toBe(first.manager);
    });

    it('leaves the connection where it was when the new context is refused', async () => {
      await setup({ maxManagersPerUser: 1 });
      const pair = await harness.connect();
      const first = await bed.factory.acquire({ userId: 'u', context: 'one', socket: pair.server });
      await expect(bed.factory.move(first.connection, 'two', false)).rejects.toBeInstanceOf(ManagerLimitExceededError);
      expect(bed.factory.managerOfSocket(pair.server)).toBe(first.manager);
      expect(first.manager.isConnected).toBe(true);
    });

    it('never closes the moving socket by evicting the manager it leaves', async () => {
      await setup({ maxManagersPerUser: 2, maxCleanupLevel: CleanupLevel.Aggressive, idleThresholdMs: 1, inactiveThresholdMs: 3_600_000 });
      const mover = await harness.connect();
      const other = await harness.connect();
      const first = await bed.factory.acquire({ userId: 'u', context: 'one', socket: mover.server });
      await bed.factory.acquire({ userId: 'u', context: 'other', socket: other.server });
      await new Promise((r) => setTimeout(r, 5)); // both idle now
      const moved = await bed.factory.move(first.connection, 'two');
      expect(moved.manager.context).toBe('two');
      expect(moved.cleanup?.levels.at(-1)).toMatchObject({ level: 'aggressive', removed: 1, reasons: { detached: 1 } });
      expect(bed.factory.get(first.manager.id)).toBeUndefined(); // the context it left made the room
      expect(first.connection.isOpen).toBe(true);
      expect(other.server.readyState).toBe(other.server.OPEN);
      expect(await bed.registry.countByUser('u')).toBe(2);
    });
  });

  describe('#acquire after a missed release', () => {
    it('drops the dead sockets of a resumed manager instead of superseding live ones', async () => {
      await setup({ maxConnectionsPerManager: 2 });
      const dead = await harness.connect();
      const first = await bed.factory.acquire({ userId: 'u', context: 'tab', socket: dead.server });
      destroyTcp(dead.client);
      await closedOnServer(dead);
      const live = [await harness.connect(), await harness.connect()];
      for (const pair of live) await bed.factory.acquire({ userId: 'u', context: 'tab', socket: pair.server });
      expect(first.manager.connections.size).toBe(2);
      for (const pair of live) expect(pair.server.readyState).toBe(pair.server.OPEN);
    });
  });
});
