import { Logger } from '@nestjs/common';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CleanupAlarmService,
  ManagerLimitExceededError,
  WebSocketManagerMetrics,
  type CleanupReport,
  type ManagerLifecycleEvent,
  type WsManagerOptions,
} from '../../../src/index.js';
import { SocketHarness } from '../../support/socket-harness.js';
import { createManagerTestBed, type ManagerTestBed } from '../../support/testing-module.js';
import { parsePrometheusText, sample } from './prometheus-text.js';

const MINUTE = 60_000;
const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);

function report(overrides: Partial<CleanupReport> = {}): CleanupReport {
  return { trigger: 'emergency', userId: 'ann', needed: 1, freed: false, detected: 0, removed: 0, probe: null, levels: [], durationMs: 3, ...overrides };
}

describe('CleanupAlarmService', () => {
  let bed: ManagerTestBed;
  let events: ManagerLifecycleEvent[];
  let errors: ReturnType<typeof vi.spyOn>;

  async function start(options: WsManagerOptions = {}): Promise<void> {
    bed = await createManagerTestBed({ alarmThreshold: 3, alarmWindowMs: 10 * MINUTE, ...options });
    events = [];
    bed.lifecycle.events$.subscribe((e) => events.push(e));
    errors = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  }

  const failAt = (minute: number, userId = 'ann') => {
    vi.setSystemTime(T0 + minute * MINUTE);
    bed.lifecycle.emit({ type: 'cleanup', report: report({ userId }) });
  };
  const alarms = () => events.filter((e) => e.type === 'alarm');

  afterEach(async () => {
    vi.useRealTimers();
    vi.restoreAllMocks();
    await bed?.close();
  });

  describe('#recordFailure', () => {
    it('raises the alarm once per window, not once per failure', async () => {
      await start();
      vi.useFakeTimers({ toFake: ['Date'] });
      failAt(0);
      failAt(1);
      expect(alarms()).toHaveLength(0);
      failAt(2);
      expect(alarms()).toEqual([{ type: 'alarm', userId: 'ann', failures: 3, windowMs: 10 * MINUTE, at: T0 + 2 * MINUTE }]);
      expect(errors).toHaveBeenCalledTimes(1);
      expect(errors.mock.calls[0]![0]).toMatch(/emergency cleanup failed 3 times in 600000 ms for user ann/);

      // Failures keep coming: silence until a window has passed since the alarm.
      for (const minute of [3, 4, 6, 9, 11.9]) failAt(minute);
      expect(alarms()).toHaveLength(1);
      expect(errors).toHaveBeenCalledTimes(1);

      failAt(12);
      expect(alarms()).toHaveLength(2);
      // Failures within the 10 minutes before minute 12: 3, 4, 6, 9, 11.9, 12.
      expect(alarms()[1]).toMatchObject({ userId: 'ann', failures: 6 });
      expect(errors).toHaveBeenCalledTimes(2);
    });

    it('stays silent when the failures are spread wider than the window', async () => {
      await start();
      vi.useFakeTimers({ toFake: ['Date'] });
      for (const minute of [0, 6, 12, 18, 24]) failAt(minute);
      expect(alarms()).toHaveLength(0);
      expect(errors).not.toHaveBeenCalled();
    });

    it('counts per user', async () => {
      await start();
      vi.useFakeTimers({ toFake: ['Date'] });
      failAt(0, 'ann');
      failAt(0, 'bob');
      failAt(1, 'ann');
      failAt(1, 'bob');
      failAt(2, 'bob');
      expect(alarms()).toEqual([expect.objectContaining({ userId: 'bob', failures: 3 })]);
    });

    it('emits emergency_cleanup_failed for each failed emergency run and ignores every other report', async () => {
      await start();
      const { lifecycle } = bed;
      lifecycle.emit({ type: 'cleanup', report: report({ freed: true }) });
      lifecycle.emit({ type: 'cleanup', report: report({ trigger: 'manual' }) });
      lifecycle.emit({ type: 'cleanup', report: report({ trigger: 'scheduled', userId: null }) });
      expect(events.filter((e) => e.type === 'emergency_cleanup_failed')).toHaveLength(0);
      lifecycle.emit({ type: 'cleanup', report: report() });
      expect(events.filter((e) => e.type === 'emergency_cleanup_failed')).toEqual([
        expect.objectContaining({ type: 'emergency_cleanup_failed', userId: 'ann' }),
      ]);
    });

    it('forgets users whose window has passed', async () => {
      await start();
      const alarm = bed.module.get(CleanupAlarmService);
      vi.useFakeTimers({ toFake: ['Date'] });
      for (let i = 0; i < 50; i++) failAt(0, `user-${i}`);
      for (let i = 0; i < 3; i++) failAt(1, 'loud');
      expect(alarm.trackedUsers).toBe(51);
      failAt(10.5, 'late'); // the quiet users' failures are older than the window: "loud" and "late" remain
      expect(alarm.trackedUsers).toBe(2);
      failAt(22, 'later'); // the alarm for "loud" is over too
      expect(alarm.trackedUsers).toBe(1);
    });
  });

  it('fires from real refused admissions, and the failures are counted in the metrics', async () => {
    await start({ maxManagersPerUser: 1, alarmThreshold: 2, probeTimeoutMs: 20 });
    const harness = await SocketHarness.start();
    try {
      await bed.factory.acquire({ userId: 'cat', context: 'only', socket: (await harness.connect()).server });
      for (const context of ['two', 'three', 'four']) {
        const refused = bed.factory.acquire({ userId: 'cat', context, socket: (await harness.connect()).server });
        await expect(refused).rejects.toBeInstanceOf(ManagerLimitExceededError);
      }
    } finally {
      await harness.close();
    }
    expect(alarms()).toEqual([expect.objectContaining({ userId: 'cat', failures: 2 })]);
    expect(events.filter((e) => e.type === 'emergency_cleanup_failed')).toHaveLength(3);
    expect(events.filter((e) => e.type === 'rejected')).toHaveLength(3);
    const samples = parsePrometheusText(await bed.module.get(WebSocketManagerMetrics).metrics());
    expect(sample(samples, 'ws_manager_emergency_cleanup_failures_total')).toBe(3);
    expect(sample(samples, 'ws_manager_admissions_total', { result: 'rejected' })).toBe(3);
    const alarmLines = errors.mock.calls.map((c: unknown[]) => String(c[0])).filter((line: string) => line.startsWith('ALARM'));
    expect(alarmLines).toEqual([expect.stringContaining('user cat')]);
  });
});
