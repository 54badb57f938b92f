import { Logger } from '@nestjs/common';
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import {
  CleanupLevel,
  getOrCreateCounter,
  getOrCreateGauge,
  ManagerLimitExceededError,
  resolveWsManagerOptions,
  WebSocketManagerMetrics,
  type ManagerLifecycleEvent,
} from '../../../src/index.js';
import { closedOnServer, destroyTcp, type SocketPair } from '../../support/socket-harness.js';
import { useMetricsTestBed } from './metrics-test-bed.js';
import { deltas, parsePrometheusText, sample } from './prometheus-text.js';

describe('WebSocketManagerMetrics', () => {
  const t = useMetricsTestBed();

  describe('#metrics', () => {
    it('serves every metric of the contract on its own registry, with the process defaults', async () => {
      await t.start();
      const text = await t.metrics.metrics();
      for (const name of [
        'ws_manager_managers',
        'ws_manager_connections',
        'ws_manager_admissions_total',
        'ws_manager_cleanup_runs_total',
        'ws_manager_cleanup_removed_total',
        'ws_manager_zombies_detected_total',
        'ws_manager_emergency_cleanup_failures_total',
        'ws_manager_heartbeat_terminations_total',
        'ws_manager_cleanup_duration_seconds',
      ]) {
        expect(text).toContain(`# TYPE ${name} `);
      }
      expect(text).toContain('process_cpu_user_seconds_total');
      expect(t.metrics.contentType).toBe(Registry.PROMETHEUS_CONTENT_TYPE);
      expect(t.metrics.registry).not.toBe((await import('prom-client')).register);
      const samples = parsePrometheusText(text);
      expect(sample(samples, 'ws_manager_admissions_total', { result: 'rejected' })).toBe(0);
      expect(sample(samples, 'ws_manager_managers', { state: 'connected' })).toBe(0);
    });

    it('counts admitted, resumed and rejected admissions, and the failed emergency cleanup', async () => {
      await t.start({ maxManagersPerUser: 2 });
      const before = await t.scrape();
      await t.admit('ann', 'a');
      await t.admit('ann', 'b');
      await t.admit('ann', 'a'); // a second tab on context "a": same manager
      await expect(t.admit('ann', 'c')).rejects.toBeInstanceOf(ManagerLimitExceededError);
      const after = await t.scrape();
      expect(deltas(before, after)).toEqual({
        'ws_manager_admissions_total{result="admitted"}': 2,
        'ws_manager_admissions_total{result="resumed"}': 1,
        'ws_manager_admissions_total{result="rejected"}': 1,
        'ws_manager_cleanup_runs_total{level="conservative",trigger="emergency"}': 1,
        'ws_manager_cleanup_runs_total{level="moderate",trigger="emergency"}': 1,
        'ws_manager_cleanup_runs_total{level="aggressive",trigger="emergency"}': 1,
        'ws_manager_emergency_cleanup_failures_total': 1,
        'ws_manager_cleanup_duration_seconds_count{trigger="emergency"}': 1,
      });
      expect(sample(after, 'ws_manager_managers', { state: 'connected' })).toBe(2);
      expect(sample(after, 'ws_manager_connections')).toBe(3);
    });

    it('counts cleanup runs, removals by level and reason, and zombies from a real emergency cleanup', async () => {
      await t.start({ maxManagersPerUser: 6 });
      const pairs: SocketPair[] = [];
      for (let i = 0; i < 6; i++) pairs.push((await t.admit('bea', `tab-${i}`)).pair);
      // Two peers vanish without a close frame, one closes cleanly; nobody calls release().
      destroyTcp(pairs[0]!.client);
      destroyTcp(pairs[1]!.client);
      pairs[2]!.client.close();
      await Promise.all([0, 1, 2].map((i) => closedOnServer(pairs[i]!)));
      const before = await t.scrape();
      const { admission } = await t.admit('bea', 'tab-6');
      const after = await t.scrape();

      expect(admission.cleanup).toMatchObject({ trigger: 'emergency', removed: 3, freed: true });
      expect(deltas(before, after)).toEqual({
        'ws_manager_admissions_total{result="admitted"}': 1,
        'ws_manager_cleanup_runs_total{level="conservative",trigger="emergency"}': 1,
        'ws_manager_cleanup_removed_total{level="conservative",reason="sockets_closed",trigger="emergency"}': 3,
        'ws_manager_zombies_detected_total{reason="sockets_closed"}': 3,
        'ws_manager_cleanup_duration_seconds_count{trigger="emergency"}': 1,
        'ws_manager_cleanup_successes_total{trigger="emergency"}': 1,
      });
      const sum = sample(after, 'ws_manager_cleanup_duration_seconds_sum', { trigger: 'emergency' });
      expect(sum).toBeCloseTo(admission.cleanup!.durationMs / 1000, 6);

      // Back at the limit with healthy managers only: force removes the least recently active one.
      await t.admit('bea', 'tab-7');
      await t.admit('bea', 'tab-8');
      const full = await t.scrape();
      const manual = await t.bed.cleanup.manual('bea', CleanupLevel.Force);
      const afterManual = await t.scrape();
      expect(manual.levels.map((l) => l.level)).toEqual(['conservative', 'moderate', 'aggressive', 'force']);
      expect(manual.removed).toBe(1);
      expect(deltas(full, afterManual)).toEqual({
        'ws_manager_cleanup_runs_total{level="conservative",trigger="manual"}': 1,
        'ws_manager_cleanup_runs_total{level="moderate",trigger="manual"}': 1,
        'ws_manager_cleanup_runs_total{level="aggressive",trigger="manual"}': 1,
        'ws_manager_cleanup_runs_total{level="force",trigger="manual"}': 1,
        'ws_manager_cleanup_removed_total{level="force",reason="forced",trigger="manual"}': 1,
        'ws_manager_cleanup_duration_seconds_count{trigger="manual"}': 1,
        'ws_manager_cleanup_successes_total{trigger="manual"}': 1,
      });

      const sweep = await t.bed.sweep.sweep();
      expect(sweep.levels.map((l) => l.level)).toEqual(['conservative', 'moderate']);
      expect(deltas(afterManual, await t.scrape())).toEqual({
        'ws_manager_cleanup_runs_total{level="conservative",trigger="scheduled"}': 1,
        'ws_manager_cleanup_runs_total{level="moderate",trigger="scheduled"}': 1,
        'ws_manager_cleanup_duration_seconds_count{trigger="scheduled"}': 1,
        'ws_manager_cleanup_successes_total{trigger="scheduled"}': 1,
      });
    });

    it('counts heartbeat terminations, zombies and reconciling removals event by event', async () => {
      await t.start();
      const before = await t.scrape();
      const { lifecycle } = t.bed;
      lifecycle.emit({ type: 'heartbeat_terminated', userId: 'u', connectionId: 'c1' });
      lifecycle.emit({ type: 'heartbeat_terminated', userId: 'u', connectionId: 'c2' });
      lifecycle.emit({ type: 'zombie_detected', userId: 'u', managerId: 'm', reason: 'registry_orphan' });
      const removed = { type: 'removed', userId: 'u', managerId: 'm', context: 'c', trigger: 'emergency', evicted: false, closeFailed: false } as const;
      lifecycle.emit({ ...removed, level: 'reconcile', reason: 'resume_window_expired' });
      // Not counted: a superseded session (not a cleanup), and a removal that a cleanup report counts.
      lifecycle.emit({ ...removed, level: 'reconcile', reason: 'superseded' });
      lifecycle.emit({ ...removed, level: 'conservative', reason: 'sockets_closed' });
      expect(deltas(before, await t.scrape())).toEqual({
        'ws_manager_heartbeat_terminations_total': 2,
        'ws_manager_zombies_detected_total{reason="registry_orphan"}': 1,
        'ws_manager_cleanup_removed_total{level="reconcile",reason="resume_window_expired",trigger="emergency"}': 1,
      });
    });

    it('a broken event is logged, never thrown into the stream, and later events still count', async () => {
      await t.start();
      const error = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
      const before = await t.scrape();
      expect(() => t.bed.lifecycle.emit({ type: 'cleanup', report: undefined } as unknown as Omit<ManagerLifecycleEvent, 'at'> as never)).not.toThrow();
      t.bed.lifecycle.emit({ type: 'heartbeat_terminated', userId: 'u', connectionId: 'c' });
      expect(error).toHaveBeenCalledWith(expect.stringContaining('could not record lifecycle event cleanup'));
      expect(deltas(before, await t.scrape())).toEqual({ 'ws_manager_heartbeat_terminations_total': 1 });
    });

    it('stops counting once destroyed', async () => {
      await t.start();
      t.metrics.onModuleDestroy();
      const before = await t.scrape();
      t.bed.lifecycle.emit({ type: 'heartbeat_terminated', userId: 'u', connectionId: 'c' });
      expect(deltas(before, await t.scrape())).toEqual({});
    });
  });

  describe('get-or-create', () => {
    it('registering the metrics twice on one registry is harmless', async () => {
      await t.start();
      const twice = new WebSocketManagerMetrics(t.metrics.registry, t.store, t.bed.lifecycle);
      t.bed.lifecycle.emit({ type: 'heartbeat_terminated', userId: 'u', connectionId: 'c' });
      const text = await twice.metrics();
      expect(text.match(/^# TYPE ws_manager_heartbeat_terminations_total counter$/gm)).toHaveLength(1);
      expect(sample(parsePrometheusText(text), 'ws_manager_heartbeat_terminations_total')).toBe(1);
      expect(getOrCreateCounter(t.metrics.registry, { name: 'ws_manager_heartbeat_terminations_total', help: 'again' })).toBe(
        t.metrics.registry.getSingleMetric('ws_manager_heartbeat_terminations_total'),
      );
    });

    it('puts the metrics on the metricsRegistry option; a re-created module counts on and reads its own store', async () => {
      const host = new Registry();
      await t.start({ metricsRegistry: host });
      expect(t.metrics.registry).toBe(host);
      await t.admit('ann', 'first');
      await t.bed.close();

      await t.start({ metricsRegistry: host });
      await t.admit('ann', 'second');
      await t.admit('bob', 'third');
      const samples = parsePrometheusText(await host.metrics());
      expect(sample(samples, 'ws_manager_admissions_total', { result: 'admitted' })).toBe(3);
      expect(sample(samples, 'ws_manager_managers', { state: 'connected' })).toBe(2);
      expect(sample(samples, 'ws_manager_connections')).toBe(2);
      expect(await host.metrics()).not.toContain('process_cpu_user_seconds_total');
    });

    it('merges with a host registry that has no process metrics of its own', async () => {
      await t.start();
      const host = new Registry();
      getOrCreateCounter(host, { name: 'app_orders_total', help: 'orders' }).inc(2);
      const merged = Registry.merge([host, t.metrics.registry]);
      const samples = parsePrometheusText(await merged.metrics());
      expect(sample(samples, 'app_orders_total')).toBe(2);
      expect(sample(samples, 'ws_manager_connections')).toBe(0);
    });

    it('validates the metricsRegistry option', () => {
      expect(() => resolveWsManagerOptions({ metricsRegistry: {} as Registry })).toThrow(/metricsRegistry.*must be a prom-client Registry/s);
      expect(resolveWsManagerOptions({ metricsRegistry: new Registry() }).metricsRegistry).toBeInstanceOf(Registry);
    });

    it('refuses a name already taken by another metric type', () => {
      const registry = new Registry();
      getOrCreateCounter(registry, { name: 'ws_manager_connections', help: 'a counter' });
      expect(() => getOrCreateGauge(registry, { name: 'ws_manager_connections', help: 'a gauge' })).toThrow(/another type/);
    });
  });
});
