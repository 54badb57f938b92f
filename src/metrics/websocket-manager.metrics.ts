import { Inject, Injectable, Logger, Optional, type OnModuleDestroy, type OnModuleInit, type Provider } from '@nestjs/common';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Subscription } from 'rxjs';
import { WS_MANAGER_OPTIONS } from '../config/ws-manager.constants.js';
import type { ResolvedWsManagerOptions } from '../config/ws-manager.options.js';
import type { CleanupReport } from '../cleanup/cleanup-report.js';
import { HealthAssessmentService } from '../health/health-assessment.service.js';
import type { ManagerLifecycleEvent } from '../lifecycle/manager-lifecycle.event.js';
import { ManagerLifecycleService } from '../lifecycle/manager-lifecycle.service.js';
import { LocalManagerStore } from '../managers/local-manager.store.js';
import { WS_METRICS_REGISTRY } from './metrics.constants.js';
import { defineWebSocketManagerMetrics, type WebSocketManagerMetricSet } from './websocket-manager.metric-definitions.js';

/**
 * Creates the module's default metrics registry: a new prom-client `Registry` per module
 * instance with prom-client's process metrics (`process_*`, `nodejs_*`) collected on it.
 */
export function createWsMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * Provider of {@link WS_METRICS_REGISTRY}: the `metricsRegistry` option when given, else
 * {@link createWsMetricsRegistry}.
 */
export const wsMetricsRegistryProvider: Provider = {
  provide: WS_METRICS_REGISTRY,
  inject: [WS_MANAGER_OPTIONS],
  useFactory: (options: ResolvedWsManagerOptions) => options.metricsRegistry ?? createWsMetricsRegistry(),
};

/**
 * Prometheus metrics of the module, on a registry of its own ({@link WS_METRICS_REGISTRY}). The
 * gauges are computed from {@link LocalManagerStore} at scrape time; the counters follow
 * {@link ManagerLifecycleService.events$}:
 *
 * - `created` → `admissions_total{result="admitted"}`, `resumed` → `{result="resumed"}`,
 *   `rejected` → `{result="rejected"}`;
 * - `cleanup` → per entry of `report.levels`: `cleanup_runs_total{trigger,level}` +1 and
 *   `cleanup_removed_total{trigger,level,reason}` +n per `reasons`; `cleanup_duration_seconds{trigger}`
 *   observes `report.durationMs / 1000` once per report; `cleanup_successes_total{trigger}` +1 when
 *   the report says `freed`;
 * - `removed` with `level="reconcile"` (settled at admission, outside a cleanup run; superseded
 *   sessions excluded) → `cleanup_removed_total{trigger,level="reconcile",reason}`;
 * - `zombie_detected` → `zombies_detected_total{reason}`;
 * - `emergency_cleanup_failed` (an emergency run with `freed: false`, emitted by
 *   `CleanupAlarmService`) → `emergency_cleanup_failures_total`;
 * - `heartbeat_terminated` → `heartbeat_terminations_total`;
 * - `slow_consumer_closed` → `slow_consumer_closes_total`;
 * - `rate_limited` → `rate_limited_total{scope,action="warned"|"closed"}`;
 * - `sweep_failed` → `sweep_failures_total`;
 * - `registry_error` → `registry_errors_total{operation}`.
 *
 * `managers_by_health{class}` is computed at scrape time from the store, like the two gauges.
 *
 * Serve {@link metrics} with {@link contentType} from a controller, merge {@link registry} with
 * yours (`Registry.merge([...])`, when yours has no process metrics), or pass your registry as
 * the `metricsRegistry` option.
 */
@Injectable()
export class WebSocketManagerMetrics implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('WebSocketManager');
  private readonly instruments: WebSocketManagerMetricSet;
  /** The admission counter's three series, labelled once: one of them moves on every admission. */
  private readonly admissionResults: Record<'admitted' | 'resumed' | 'rejected', { inc(): void }>;
  private subscription?: Subscription;

  constructor(
    /** The registry holding every metric of the module. */
    @Inject(WS_METRICS_REGISTRY) readonly registry: Registry,
    store: LocalManagerStore,
    private readonly lifecycle: ManagerLifecycleService,
    /** Classifies managers for `managers_by_health`; without it that gauge reads 0 for every class. */
    @Optional() health?: HealthAssessmentService,
  ) {
    this.instruments = defineWebSocketManagerMetrics(registry, store, health && ((manager, now) => health.classOf(manager, now)));
    const { admissions } = this.instruments;
    this.admissionResults = {
      admitted: admissions.labels({ result: 'admitted' }),
      resumed: admissions.labels({ result: 'resumed' }),
      rejected: admissions.labels({ result: 'rejected' }),
    };
  }

  /** The `Content-Type` to serve {@link metrics} with. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric of {@link registry} in the Prometheus text format. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  onModuleInit(): void {
    this.subscription ??= this.lifecycle.listen((event) => {
      // A throw inside a Subject's subscriber is rethrown asynchronously and would crash the process.
      try {
        this.record(event);
      } catch (error) {
        this.logger.error(`metrics: could not record lifecycle event ${String((event as { type?: unknown })?.type)}: ${String(error)}`);
      }
    });
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }

  private record(event: ManagerLifecycleEvent): void {
    const m = this.instruments;
    switch (event.type) {
      case 'created':
        this.admissionResults.admitted.inc();
        break;
      case 'resumed':
        this.admissionResults.resumed.inc();
        break;
      case 'rejected':
        this.admissionResults.rejected.inc();
        break;
      case 'cleanup':
        this.recordCleanup(event.report);
        break;
      case 'removed':
        if (event.level === 'reconcile' && event.reason !== 'superseded') {
          m.cleanupRemoved.inc({ trigger: event.trigger, level: event.level, reason: event.reason });
        }
        break;
      case 'zombie_detected':
        m.zombiesDetected.inc({ reason: event.reason });
        break;
      case 'emergency_cleanup_failed':
        m.emergencyCleanupFailures.inc();
        break;
      case 'heartbeat_terminated':
        m.heartbeatTerminations.inc();
        break;
      case 'slow_consumer_closed':
        m.slowConsumerCloses.inc();
        break;
      case 'rate_limited':
        m.rateLimited.inc({ scope: event.scope, action: event.closed ? 'closed' : 'warned' });
        break;
      case 'sweep_failed':
        m.sweepFailures.inc();
        break;
      case 'registry_error':
        m.registryErrors.inc({ operation: event.operation });
        break;
      default:
        break;
    }
  }

  private recordCleanup(report: CleanupReport): void {
    const { trigger } = report;
    for (const level of report.levels) {
      this.instruments.cleanupRuns.inc({ trigger, level: level.level });
      for (const [reason, removed] of Object.entries(level.reasons)) {
        if (removed > 0) this.instruments.cleanupRemoved.inc({ trigger, level: level.level, reason }, removed);
      }
    }
    this.instruments.cleanupDuration.observe({ trigger }, report.durationMs / 1000);
    if (report.freed) this.instruments.cleanupSuccesses.inc({ trigger });
  }
}
