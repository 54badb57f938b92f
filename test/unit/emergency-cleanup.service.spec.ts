import { afterEach, describe, expect, it, vi } from 'vitest';
import { CleanupLevel, HealthReason, ManagerLimitExceededError, type WsManagerOptions } from '../../src/index.js';
import { admitMany, closeOf, nextMessage, recordEvents, type AdmittedPair } from '../support/fixtures.js';
import { closedOnServer, destroyTcp, SocketHarness } from '../support/socket-harness.js';
import { createManagerTestBed, type ManagerTestBed } from '../support/testing-module.js';

const MINUTE = 60_000;
const BASE: WsManagerOptions = {
  maxManagersPerUser: 5,
  probeTimeoutMs: 300,
  idleThresholdMs: MINUTE,
  inactiveThresholdMs: 10 * MINUTE,
  resumeWindowMs: 5 * MINUTE,
};

describe('EmergencyCleanupService', () => {
  let harness: SocketHarness;
  let bed: ManagerTestBed;

  async function setup(options: WsManagerOptions = {}): Promise<void> {
    harness = await SocketHarness.start();
    bed = await createManagerTestBed({ ...BASE, ...options });
  }

  afterEach(async () => {
    vi.restoreAllMocks();
    await bed.close();
    await harness.close();
  });

  const idle = (p: AdmittedPair, silentMs: number) => p.admission.manager.markActivity(Date.now() - silentMs);
  const inactive = (p: AdmittedPair) => idle(p, 11 * MINUTE);
  const detach = async (p: AdmittedPair, agoMs: number) => {
    await bed.factory.release(p.server);
    p.admission.manager.detachedAt = Date.now() - agoMs;
  };
  const kill = async (p: AdmittedPair) => {
    destroyTcp(p.client);
    await closedOnServer(p);
  };
  const alive = (p: AdmittedPair) => bed.factory.get(p.admission.manager.id) !== undefined;

  describe('#emergency', () => {
    it('stops at conservative when removing a zombie frees a slot', async () => {
      await setup();
      const pairs = await admitMany(bed, harness, 'u', 5);
      await kill(pairs[0]!);
      inactive(pairs[1]!);

      const report = await bed.cleanup.emergency('u');
      expect(report).toMatchObject({ trigger: 'emergency', userId: 'u', needed: 1, freed: true, detected: 1, removed: 1 });
      expect(report.levels.map((l) => l.level)).toEqual([CleanupLevel.Conservative]);
      expect(alive(pairs[0]!)).toBe(false);
      expect(alive(pairs[1]!)).toBe(true);
    });

    it('escalates to moderate only when conservative frees nothing', async () => {
      await setup();
      const pairs = await admitMany(bed, harness, 'u', 5);
      inactive(pairs[2]!);
      await detach(pairs[3]!, 4 * MINUTE);

      const report = await bed.cleanup.emergency('u');
      expect(report.levels.map((l) => [l.level, l.candidates, l.removed])).toEqual([
        [CleanupLevel.Conservative, 0, 0],
        [CleanupLevel.Moderate, 1, 1],
      ]);
      expect(report.levels[1]!.reasons).toEqual({ [HealthReason.InactiveThreshold]: 1 });
      expect(alive(pairs[2]!)).toBe(false);
      expect(alive(pairs[3]!)).toBe(true);
      expect(await bed.registry.countByUser('u')).toBe(4);
    });

    it('never goes above maxCleanupLevel: at moderate, detached and idle stay and acquire is refused', async () => {
      await setup({ maxCleanupLevel: CleanupLevel.Moderate });
      const pairs = await admitMany(bed, harness, 'u', 5);
      await detach(pairs[0]!, 4 * MINUTE);
      await detach(pairs[1]!, 2 * MINUTE);
      idle(pairs[2]!, 5 * MINUTE);

      const extra = await harness.connect();
      const error = (await bed.factory.acquire({ userId: 'u', context: 'sixth', socket: extra.server }).catch((e: unknown) => e)) as ManagerLimitExceededError;
      expect(error).toBeInstanceOf(ManagerLimitExceededError);
      expect(error).toMatchObject({ code: 'MANAGER_LIMIT_REACHED', limit: 5, active: 5 });
      expect(error.retryAfterMs).toBeGreaterThan(0);
      expect(error.cleanup!.levels.map((l) => l.level)).toEqual([CleanupLevel.Conservative, CleanupLevel.Moderate]);
      expect(error.cleanup!.removed).toBe(0);
      expect(pairs.every(alive)).toBe(true);
      expect(await bed.registry.countByUser('u')).toBe(5);
    });

    it('at aggressive evicts only as many as needed, the longest detached first', async () => {
      await setup();
      const pairs = await admitMany(bed, harness, 'u', 5);
      await detach(pairs[0]!, 1 * MINUTE);
      await detach(pairs[1]!, 4 * MINUTE);
      await detach(pairs[2]!, 2 * MINUTE);
      idle(pairs[3]!, 9 * MINUTE);

      const report = await bed.cleanup.emergency('u');
      expect(report.levels.map((l) => l.level)).toEqual([CleanupLevel.Conservative, CleanupLevel.Moderate, CleanupLevel.Aggressive]);
      expect(report.levels[2]).toMatchObject({ candidates: 1, removed: 1, reasons: { [HealthReason.Detached]: 1 } });
      expect(pairs.map(alive)).toEqual([true, false, true, true, true]);
    });

    it('at aggressive takes the least recently active idle once no detached is left', async () => {
      await setup();
      const pairs = await admitMany(bed, harness, 'u', 5);
      idle(pairs[1]!, 2 * MINUTE);
      idle(pairs[3]!, 8 * MINUTE);
      const evicted = nextMessage(pairs[3]!);

      const report = await bed.cleanup.emergency('u');
      expect(report.levels[2]).toMatchObject({ level: CleanupLevel.Aggressive, removed: 1, reasons: { [HealthReason.IdleThreshold]: 1 } });
      expect(pairs.map(alive)).toEqual([true, true, true, false, true]);
      expect(await evicted).toEqual({ event: 'evicted', data: { level: 'aggressive', reason: 'idle_threshold' } });
    });

    it('leaves healthy managers alone below force', async () => {
      await setup();
      const pairs = await admitMany(bed, harness, 'u', 5);
      const report = await bed.cleanup.emergency('u');
      expect(report.freed).toBe(false);
      expect(report.removed).toBe(0);
      expect(report.levels.map((l) => l.level)).toEqual([CleanupLevel.Conservative, CleanupLevel.Moderate, CleanupLevel.Aggressive]);
      expect(pairs.every(alive)).toBe(true);
    });

    it('at force evicts the least recently active healthy manager, which is told and closed with 4001', async () => {
      await setup({ maxCleanupLevel: CleanupLevel.Force });
      const pairs = await admitMany(bed, harness, 'u', 5);
      pairs.forEach((p, i) => idle(p, (i === 2 ? 50 : 10 - i) * 1000));
      const message = nextMessage(pairs[2]!);
      const closed = closeOf(pairs[2]!);
      const recorder = recordEvents(bed);

      const report = await bed.cleanup.emergency('u');
      expect(report.levels.map((l) => l.level)).toEqual(CLEANUP_ORDER);
      expect(report.levels[3]).toMatchObject({ candidates: 1, removed: 1, reasons: { [HealthReason.Forced]: 1 } });
      expect(await message).toEqual({ event: 'evicted', data: { level: 'force', reason: 'forced' } });
      expect(await closed).toEqual({ code: 4001, reason: 'EVICTED' });
      expect(pairs.map(alive)).toEqual([true, true, false, true, true]);
      expect(recorder.events).toContainEqual(
        expect.objectContaining({ type: 'removed', managerId: pairs[2]!.admission.manager.id, level: 'force', evicted: true, closeFailed: false }),
      );
      recorder.stop();
    });

    it('the liveness probe marks a silent client unresponsive and moderate removes it; responsive ones stay', async () => {
      await setup();
      const pairs = await admitMany(bed, harness, 'u', 4);
      const [silent] = await admitMany(bed, harness, 'u', 1, { prefix: 'silent', client: { autoPong: false } });
      // Not heard from for a while: every connection is probed.
      for (const p of [...pairs, silent!]) p.admission.connection.lastHeardAt = Date.now() - MINUTE;

      const report = await bed.cleanup.emergency('u');
      expect(report.probe).toMatchObject({ probed: 5, unresponsive: 1 });
      expect(report.probe!.waitedMs).toBeGreaterThanOrEqual(250);
      expect(report.probe!.waitedMs).toBeLessThan(5000);
      expect(report.levels.map((l) => l.level)).toEqual([CleanupLevel.Conservative, CleanupLevel.Moderate]);
      expect(report.levels[1]!.reasons).toEqual({ [HealthReason.ProbeFailed]: 1 });
      expect(alive(silent!)).toBe(false);
      expect(pairs.every(alive)).toBe(true);
      for (const p of pairs) expect(p.admission.connection.probeFailed).toBe(false);
    });

    it('reports per level candidates, removed, reasons, close failures and duration', async () => {
      await setup();
      const pairs = await admitMany(bed, harness, 'u', 5);
      await kill(pairs[0]!);
      await kill(pairs[1]!);
      const report = await bed.cleanup.emergency('u');
      expect(report.probe).toEqual({ probed: 0, unresponsive: 0, waitedMs: 0 });
      expect(report.levels).toEqual([
        { level: CleanupLevel.Conservative, candidates: 2, removed: 2, reasons: { sockets_closed: 2 }, closeFailures: 0, durationMs: expect.any(Number) },
      ]);
      expect(report.levels[0]!.durationMs).toBeGreaterThanOrEqual(0);
      expect(report.durationMs).toBeGreaterThanOrEqual(report.levels[0]!.durationMs);
    });

    it('one failing close does not stop the others, and the failing manager is removed too', async () => {
      await setup();
      const pairs = await admitMany(bed, harness, 'u', 5);
      for (const p of pairs.slice(0, 3)) inactive(p);
      vi.spyOn(pairs[0]!.admission.manager, 'closeAll').mockImplementation(() => {
        throw new Error('close exploded');
      });
      const closed = [closeOf(pairs[1]!), closeOf(pairs[2]!)];

      const report = await bed.cleanup.emergency('u');
      expect(report.levels[1]).toMatchObject({ level: CleanupLevel.Moderate, candidates: 3, removed: 3, closeFailures: 1 });
      expect(await Promise.all(closed)).toEqual([
        { code: 4001, reason: 'EVICTED' },
        { code: 4001, reason: 'EVICTED' },
      ]);
      expect(pairs.map(alive)).toEqual([false, false, false, true, true]);
      expect(await bed.registry.countByUser('u')).toBe(2);
    });
  });

  describe('#manual', () => {
    it('runs every level up to the given one without stopping early', async () => {
      await setup();
      const pairs = await admitMany(bed, harness, 'u', 3);
      await kill(pairs[0]!);
      inactive(pairs[1]!);
      await detach(pairs[2]!, MINUTE);

      const report = await bed.cleanup.manual('u', CleanupLevel.Aggressive);
      expect(report).toMatchObject({ trigger: 'manual', needed: 0, probe: null, removed: 2 });
      expect(report.levels.map((l) => [l.level, l.removed])).toEqual([
        [CleanupLevel.Conservative, 1],
        [CleanupLevel.Moderate, 1],
        [CleanupLevel.Aggressive, 0],
      ]);
      expect(alive(pairs[2]!)).toBe(true);
    });

    it('force makes room for one session even beyond maxCleanupLevel', async () => {
      await setup({ maxCleanupLevel: CleanupLevel.Conservative });
      const pairs = await admitMany(bed, harness, 'u', 5);
      idle(pairs[4]!, 30_000);
      const report = await bed.cleanup.manual('u', CleanupLevel.Force);
      expect(report).toMatchObject({ needed: 1, removed: 1, freed: true });
      expect(pairs.map(alive)).toEqual([true, true, true, true, false]);
    });
  });
});

const CLEANUP_ORDER = [CleanupLevel.Conservative, CleanupLevel.Moderate, CleanupLevel.Aggressive, CleanupLevel.Force];
