import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { HealthClass } from '../health/health-class.js';
import type { LocalManagerStore } from '../managers/local-manager.store.js';
import { getOrCreateCounter, getOrCreateGauge, getOrCreateHistogram } from './get-or-create-metric.js';
import { censusLocalManagers, type LocalManagerCensus, type ManagerClassifier } from './local-manager-counts.js';
import { WS_METRICS_PREFIX as P } from './metrics.constants.js';

/** The name of every metric of this module, as it appears on `/metrics`. */
export const WS_METRIC_NAMES = {
  managers: `${P}managers`,
  connections: `${P}connections`,
  admissions: `${P}admissions_total`,
  cleanupRuns: `${P}cleanup_runs_total`,
  cleanupRemoved: `${P}cleanup_removed_total`,
  zombiesDetected: `${P}zombies_detected_total`,
  emergencyCleanupFailures: `${P}emergency_cleanup_failures_total`,
  heartbeatTerminations: `${P}heartbeat_terminations_total`,
  slowConsumerCloses: `${P}slow_consumer_closes_total`,
  rateLimited: `${P}rate_limited_total`,
  cleanupDuration: `${P}cleanup_duration_seconds`,
  cleanupSuccesses: `${P}cleanup_successes_total`,
  managersByHealth: `${P}managers_by_health`,
  sweepFailures: `${P}sweep_failures_total`,
  registryErrors: `${P}registry_errors_total`,
} as const;

/** Buckets of `ws_manager_cleanup_duration_seconds`: a sweep slice to a probe-bound emergency run. */
export const CLEANUP_DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** prom-client keeps a metric's `collect` config as a property and calls it at every scrape. */
type Collectable<M> = { collect: (this: M) => void | Promise<void> };

/** The module's metric objects, bound to one registry. */
export interface WebSocketManagerMetricSet {
  managers: Gauge<'state'>;
  connections: Gauge;
  admissions: Counter<'result'>;
  cleanupRuns: Counter<'trigger' | 'level'>;
  cleanupRemoved: Counter<'trigger' | 'level' | 'reason'>;
  zombiesDetected: Counter<'reason'>;
  emergencyCleanupFailures: Counter;
  heartbeatTerminations: Counter;
  slowConsumerCloses: Counter;
  rateLimited: Counter<'scope' | 'action'>;
  cleanupDuration: Histogram<'trigger'>;
  cleanupSuccesses: Counter<'trigger'>;
  managersByHealth: Gauge<'class'>;
  sweepFailures: Counter;
  registryErrors: Counter<'operation'>;
}

export type { ManagerClassifier } from './local-manager-counts.js';

/**
 * Gets or creates every metric of the module on `registry`. The two gauges are computed from
 * `store` at scrape time, so they agree with the sockets this instance holds at that moment; when
 * several module instances share one registry, the gauges follow the one defined last.
 */
export function defineWebSocketManagerMetrics(registry: Registry, store: LocalManagerStore, classify?: ManagerClassifier): WebSocketManagerMetricSet {
  const N = WS_METRIC_NAMES;
  const managers = getOrCreateGauge(registry, {
    name: N.managers,
    help: 'Managers held by this instance, by state: connected (at least one open socket) or detached (none).',
    labelNames: ['state'] as const,
  });
  const connections = getOrCreateGauge(registry, {
    name: N.connections,
    help: 'Open WebSocket connections held by this instance over all managers.',
  });
  // The three gauges read one pass over the store per scrape (prom-client collects them in one
  // turn), sliced so that a million managers do not block the loop for the whole pass.
  let pending: Promise<LocalManagerCensus> | undefined;
  const census = () => (pending ??= censusLocalManagers(store, classify).finally(() => (pending = undefined)));
  // Bound on every call, not only at creation: when a registry outlives a module instance (a host
  // registry, an app re-created in tests) the gauges must read the live store, not a closed one.
  (managers as unknown as Collectable<Gauge<'state'>>).collect = async function () {
    const counts = await census();
    this.set({ state: 'connected' }, counts.connected);
    this.set({ state: 'detached' }, counts.detached);
  };
  (connections as unknown as Collectable<Gauge>).collect = async function () {
    this.set((await census()).connections);
  };
  const admissions = getOrCreateCounter(registry, {
    name: N.admissions,
    help: 'Admission decisions: admitted (new manager), resumed (existing manager of that context re-attached), rejected (limit reached after the allowed cleanup).',
    labelNames: ['result'] as const,
  });
  for (const result of ['admitted', 'resumed', 'rejected']) admissions.inc({ result }, 0);
  const cleanupRuns = getOrCreateCounter(registry, {
    name: N.cleanupRuns,
    help: 'Cleanup levels run, by trigger (scheduled, emergency, manual) and level; one per level of each cleanup report.',
    labelNames: ['trigger', 'level'] as const,
  });
  const cleanupRemoved = getOrCreateCounter(registry, {
    name: N.cleanupRemoved,
    help: 'Managers removed by cleanup, by trigger, level and health reason (level "reconcile": settled at admission outside a cleanup run).',
    labelNames: ['trigger', 'level', 'reason'] as const,
  });
  const zombiesDetected = getOrCreateCounter(registry, {
    name: N.zombiesDetected,
    help: 'Zombie managers (provably dead) found by cleanup, by reason.',
    labelNames: ['reason'] as const,
  });
  const emergencyCleanupFailures = getOrCreateCounter(registry, {
    name: N.emergencyCleanupFailures,
    help: 'Emergency cleanup runs that ended without freeing a slot (the admission is then refused).',
  });
  const heartbeatTerminations = getOrCreateCounter(registry, {
    name: N.heartbeatTerminations,
    help: 'Connections terminated because a protocol ping went unanswered past the heartbeat timeout.',
  });
  const slowConsumerCloses = getOrCreateCounter(registry, {
    name: N.slowConsumerCloses,
    help: 'Connections closed with 4009 SLOW_CONSUMER because their send buffer passed maxBufferedBytes.',
  });
  const rateLimited = getOrCreateCounter(registry, {
    name: N.rateLimited,
    help: 'Inbound budget overruns: RATE_LIMITED warnings (action="warned") and 4008 closes (action="closed"), by the bucket that ran dry.',
    labelNames: ['scope', 'action'] as const,
  });
  const cleanupDuration = getOrCreateHistogram(registry, {
    name: N.cleanupDuration,
    help: 'Duration of cleanup runs in seconds (emergency runs include the liveness probe), by trigger.',
    labelNames: ['trigger'] as const,
    buckets: CLEANUP_DURATION_BUCKETS,
  });
  const cleanupSuccesses = getOrCreateCounter(registry, {
    name: N.cleanupSuccesses,
    help: 'Cleanup runs that reached their goal, by trigger: emergency and manual runs that left room for one more session, scheduled sweeps that finished.',
    labelNames: ['trigger'] as const,
  });
  for (const trigger of ['scheduled', 'emergency', 'manual']) cleanupSuccesses.inc({ trigger }, 0);
  const managersByHealth = getOrCreateGauge(registry, {
    name: N.managersByHealth,
    help: 'Managers held by this instance per health class (zombie, unresponsive, inactive, detached, idle, healthy), judged at scrape time.',
    labelNames: ['class'] as const,
  });
  (managersByHealth as unknown as Collectable<Gauge<'class'>>).collect = async function () {
    const { byHealth } = await census();
    for (const c of Object.values(HealthClass)) this.set({ class: c }, byHealth[c]);
  };
  const sweepFailures = getOrCreateCounter(registry, {
    name: N.sweepFailures,
    help: 'Scheduled sweeps that threw before finishing (the schedule goes on; see the error log).',
  });
  const registryErrors = getOrCreateCounter(registry, {
    name: N.registryErrors,
    help: 'Registry calls answered with an error (a bug such as a script error, not an outage), by operation; admissions they hit close with 1011.',
    labelNames: ['operation'] as const,
  });
  return {
    managers,
    connections,
    admissions,
    cleanupRuns,
    cleanupRemoved,
    zombiesDetected,
    emergencyCleanupFailures,
    heartbeatTerminations,
    slowConsumerCloses,
    rateLimited,
    cleanupDuration,
    cleanupSuccesses,
    managersByHealth,
    sweepFailures,
    registryErrors,
  };
}
