import { describe, expect, it, vi } from 'vitest';
import { CleanupLevel, HealthClass } from '../../../src/index.js';
import { closedOnServer, destroyTcp, waitFor } from '../../support/socket-harness.js';
import { useMetricsTestBed } from './metrics-test-bed.js';
import { sample } from './prometheus-text.js';

// The series operators asked for beside the failure counters: successes, a gauge per health
// class, and sweep failures.
describe('WebSocketManagerMetrics (operator series)', () => {
  const t = useMetricsTestBed();

  describe('ws_manager_managers_by_health', () => {
    it('counts this instance\'s managers per health class at scrape time, every class present', async () => {
      await t.start({ maxManagersPerUser: 10 });
      await t.admit('u1', 'a');
      await t.admit('u1', 'b');
      const { pair } = await t.admit('u2', 'c');
      destroyTcp(pair.client);
      await closedOnServer(pair);

      const s = await t.scrape();
      const byClass = Object.fromEntries(Object.values(HealthClass).map((c) => [c, sample(s, 'ws_manager_managers_by_health', { class: c })]));
      expect(byClass).toEqual({ zombie: 1, unresponsive: 0, inactive: 0, detached: 0, idle: 0, healthy: 2 });
      expect(Object.values(byClass).reduce((a, b) => a + b, 0)).toBe(t.store.size);
    });
  });

  describe('ws_manager_cleanup_successes_total', () => {
    it('counts runs that left room, per trigger, and not those that did not', async () => {
      await t.start({ maxManagersPerUser: 2, maxCleanupLevel: CleanupLevel.Moderate });
      const before = await t.scrape();
      expect(sample(before, 'ws_manager_cleanup_successes_total', { trigger: 'manual' })).toBe(0);
      await t.admit('u1', 'a');
      await t.bed.cleanup.manual('u1', CleanupLevel.Conservative); // 1 of 2: room left
      await t.admit('u1', 'b');
      await t.bed.cleanup.manual('u1', CleanupLevel.Moderate); // 2 healthy of 2: no room
      await t.bed.sweep.sweep();

      const s = await t.scrape();
      expect(sample(s, 'ws_manager_cleanup_successes_total', { trigger: 'manual' })).toBe(1);
      expect(sample(s, 'ws_manager_cleanup_successes_total', { trigger: 'scheduled' })).toBe(1);
      expect(sample(s, 'ws_manager_cleanup_successes_total', { trigger: 'emergency' })).toBe(0);
    });
  });

  describe('ws_manager_sweep_failures_total', () => {
    it('counts scheduled sweeps that threw, and the schedule goes on', async () => {
      await t.start({ cleanupCron: '* * * * * *' });
      const sweep = vi.spyOn(t.bed.sweep, 'sweep').mockRejectedValue(new Error('registry script bug'));
      await waitFor(async () => sample(await t.scrape(), 'ws_manager_sweep_failures_total') >= 2, 10_000);
      expect(sweep.mock.calls.length).toBeGreaterThanOrEqual(2);
    });
  });
});
