import { SchedulerRegistry } from '@nestjs/schedule';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CleanupLevel,
  HealthReason,
  HeartbeatService,
  LocalManagerStore,
  SWEEP_JOB_NAME,
  WebSocketManager,
  type ManagerRecord,
  type WsManagerOptions,
} from '../../src/index.js';
import { admitMany, recordEvents, type AdmittedPair } from '../support/fixtures.js';
import { closedOnServer, destroyTcp, SocketHarness, waitFor } from '../support/socket-harness.js';
import { createManagerTestBed, type ManagerTestBed } from '../support/testing-module.js';

const MINUTE = 60_000;
const NODE = 'node-a';

describe('ScheduledSweepService', () => {
  let harness: SocketHarness | undefined;
  let bed: ManagerTestBed | undefined;

  async function setup(options: WsManagerOptions = {}): Promise<ManagerTestBed> {
    harness = await SocketHarness.start();
    bed = await createManagerTestBed({
      nodeId: NODE,
      idleThresholdMs: MINUTE,
      inactiveThresholdMs: 10 * MINUTE,
      heartbeatTimeoutMs: 10_000,
      ...options,
    });
    return bed;
  }

  afterEach(async () => {
    vi.useRealTimers();
    vi.restoreAllMocks();
    await bed?.close();
    await harness?.close();
    bed = harness = undefined;
  });

  const alive = (p: AdmittedPair) => bed!.factory.get(p.admission.manager.id) !== undefined;
  const record = (overrides: Partial<ManagerRecord>): ManagerRecord => ({
    managerId: `r-${Math.random().toString(36).slice(2)}`,
    userId: 'u',
    context: `ctx-${Math.random().toString(36).slice(2)}`,
    nodeId: NODE,
    createdAt: Date.now(),
    lastActivityAt: Date.now(),
    detachedAt: null,
    ...overrides,
  });

  describe('#sweep', () => {
    it('removes zombie, unresponsive and disconnected inactive managers; leaves connected inactive, healthy, idle and detached ones', async () => {
      const b = await setup();
      const [zombie, unresponsive, inactive, healthy, idle, detached, connectedInactive] = await admitMany(b, harness!, 'u', 7);
      destroyTcp(zombie!.client);
      await closedOnServer(zombie!);
      // A ping outstanding well past the timeout; kept away from the heartbeat so it is not terminated first.
      b.module.get(HeartbeatService).untrack(unresponsive!.admission.connection);
      unresponsive!.admission.connection.pingSentAt = Date.now() - 30_000;
      inactive!.admission.manager.markActivity(Date.now() - 11 * MINUTE);
      await b.factory.release(inactive!.server);
      // A receive-only client (a dashboard): open, answers pings, never sends. Never evicted here.
      connectedInactive!.admission.manager.markActivity(Date.now() - 11 * MINUTE);
      idle!.admission.manager.markActivity(Date.now() - 2 * MINUTE);
      await b.factory.release(detached!.server);

      const report = await b.sweep.sweep();
      expect(report).toMatchObject({ trigger: 'scheduled', userId: null, detected: 3, removed: 3, probe: null });
      const byLevel = Object.fromEntries(report.levels.map((l) => [l.level, l]));
      expect(byLevel[CleanupLevel.Conservative]).toMatchObject({ removed: 1, reasons: { [HealthReason.SocketsClosed]: 1 } });
      expect(byLevel[CleanupLevel.Moderate]).toMatchObject({
        removed: 2,
        reasons: { [HealthReason.PongTimeout]: 1, [HealthReason.InactiveThreshold]: 1 },
      });
      expect([zombie, unresponsive, inactive, healthy, idle, detached, connectedInactive].map((p) => alive(p!))).toEqual([
        false,
        false,
        false,
        true,
        true,
        true,
        true,
      ]);
      expect(connectedInactive!.client.readyState).toBe(connectedInactive!.client.OPEN);
      expect(await b.registry.countByUser('u')).toBe(4);
      expect(b.sweep.getStatus()).toMatchObject({ lastZombies: 1, running: false, lastReport: report, lastFinishedAt: expect.any(Number) });
    });

    it('reconciles registry orphans of this node older than the 5 s grace, and only those', async () => {
      const b = await setup({ resumeWindowMs: 60_000 });
      const [kept] = await admitMany(b, harness!, 'u', 1);
      const start = Date.now();
      // Left recorded as connected by the process before this one (same node id; it died).
      const previous = record({ createdAt: start - 6000 });
      // The clock moves on (Date only): entries made since this process started can be old enough.
      vi.useFakeTimers({ toFake: ['Date'], now: start + 10_000 });
      try {
        const old = record({ createdAt: start + 1000 });
        const young = record({ createdAt: Date.now() - 1000 });
        const remote = record({ createdAt: start - 60_000, nodeId: 'node-b' });
        for (const r of [previous, old, young, remote]) await b.registry.admit(r, 100);

        const report = await b.sweep.sweep();
        expect(report.levels.find((l) => l.level === CleanupLevel.Conservative)!.reasons).toEqual({ [HealthReason.RegistryOrphan]: 1 });
        expect(await b.registry.get('u', old.managerId)).toBeNull();
        expect(await b.registry.get('u', young.managerId)).not.toBeNull();
        expect(await b.registry.get('u', remote.managerId)).not.toBeNull();
        // Its client may come back for it within the resume window, counted from this start,
        // which the registry now records, so that every instance judges it detached.
        const left = await b.registry.get('u', previous.managerId);
        expect(left?.detachedAt).toBeGreaterThan(previous.createdAt);
        expect(left?.detachedAt).toBeLessThanOrEqual(start);
        expect(alive(kept!)).toBe(true);

        vi.setSystemTime(start + 60_000 + 1000);
        const later = await b.sweep.sweep();
        expect(later.levels.find((l) => l.level === CleanupLevel.Conservative)!.reasons).toMatchObject({ [HealthReason.ResumeWindowExpired]: 1 });
        expect(await b.registry.get('u', previous.managerId)).toBeNull();
      } finally {
        vi.useRealTimers();
      }
    });

    it('never overlaps: concurrent calls share one run', async () => {
      const b = await setup();
      await admitMany(b, harness!, 'u', 3);
      const recorder = recordEvents(b);
      const first = b.sweep.sweep();
      const second = b.sweep.sweep();
      expect(second).toBe(first);
      expect(b.sweep.getStatus().running).toBe(true);
      expect(await second).toBe(await first);
      expect(recorder.events.filter((e) => e.type === 'cleanup')).toHaveLength(1);
      const third = b.sweep.sweep();
      expect(third).not.toBe(first);
      await third;
      expect(recorder.events.filter((e) => e.type === 'cleanup')).toHaveLength(2);
      recorder.stop();
    });

    it('yields to the event loop between slices', async () => {
      const b = await setup({ sweepSliceSize: 10, resumeWindowMs: MINUTE });
      const store = b.module.get(LocalManagerStore);
      for (let i = 0; i < 200; i++) {
        const manager = new WebSocketManager(record({ userId: `user-${i % 20}`, context: `c-${i}` }), 10);
        // Half detached past the resume window (zombies to remove), half detached within it.
        manager.detachedAt = Date.now() - (i % 2 === 0 ? 2 * MINUTE : 1000);
        store.add(manager);
      }
      let turns = 0;
      let ticking = true;
      const tick = () => {
        turns++;
        if (ticking) setImmediate(tick);
      };
      setImmediate(tick);
      const turnAtVisit: number[] = [];
      const assess = b.health.assessManager.bind(b.health);
      vi.spyOn(b.health, 'assessManager').mockImplementation((m, now) => {
        turnAtVisit.push(turns);
        return assess(m, now);
      });

      const report = await b.sweep.sweep();
      ticking = false;
      expect(report.removed).toBe(100);
      expect(store.size).toBe(100);
      expect(turnAtVisit[0]).toBe(0); // the sweep starts synchronously...
      expect(new Set(turnAtVisit).size).toBeGreaterThanOrEqual(15); // ...and lets other callbacks run about every 10 managers
    });

    it('goes on after a removal that throws', async () => {
      const b = await setup();
      const pairs = await admitMany(b, harness!, 'u', 4);
      for (const p of pairs.slice(0, 3)) {
        p.admission.manager.markActivity(Date.now() - 11 * MINUTE);
        await b.factory.release(p.server);
      }
      vi.spyOn(pairs[0]!.admission.manager, 'closeAll').mockImplementation(() => {
        throw new Error('close exploded');
      });
      const remove = b.registry.remove.bind(b.registry);
      vi.spyOn(b.registry, 'remove').mockImplementation(async (userId, managerId) => {
        if (managerId === pairs[1]!.admission.manager.id) throw new Error('registry exploded');
        return remove(userId, managerId);
      });

      const report = await b.sweep.sweep();
      const moderate = report.levels.find((l) => l.level === CleanupLevel.Moderate)!;
      expect(moderate).toMatchObject({ candidates: 3, closeFailures: 1 });
      expect(moderate.removed).toBe(2);
      expect(pairs.map(alive)).toEqual([false, false, false, true]);
      expect(await b.registry.get('u', pairs[2]!.admission.manager.id)).toBeNull();
    });
  });

  describe('#onApplicationBootstrap', () => {
    it('registers the cron job with the configured expression; firing it sweeps; close removes it', async () => {
      const b = await setup({ cleanupCron: '*/7 * * * * *' });
      const scheduler = b.module.get(SchedulerRegistry);
      const name = b.sweep.jobName!;
      expect(name.startsWith(`${SWEEP_JOB_NAME}:`)).toBe(true);
      const job = scheduler.getCronJob(name);
      expect(job.cronTime.source).toBe('*/7 * * * * *');
      expect(job.isActive).toBe(true);
      const sweeping = vi.spyOn(b.sweep, 'sweep');
      await job.fireOnTick();
      expect(sweeping).toHaveBeenCalledTimes(1);
      await waitFor(() => b.sweep.getStatus().lastFinishedAt !== null, 5000, 'the sweep to finish');

      await b.close();
      bed = undefined;
      expect(scheduler.doesExist('cron', name)).toBe(false);
    });

    it('fires the sweep on schedule (fake timers)', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
      bed = await createManagerTestBed({ cleanupCron: '*/2 * * * * *' });
      const sweeping = vi.spyOn(bed.sweep, 'sweep');
      await vi.advanceTimersByTimeAsync(2100);
      expect(sweeping).toHaveBeenCalled();
      const calls = sweeping.mock.calls.length;
      await vi.advanceTimersByTimeAsync(10_000);
      expect(sweeping.mock.calls.length).toBeGreaterThanOrEqual(calls + 4);
    });
  });
});
