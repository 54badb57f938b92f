export { WS_METRICS_REGISTRY, WS_METRICS_PREFIX } from './metrics.constants.js';
export { WebSocketManagerMetrics, createWsMetricsRegistry } from './websocket-manager.metrics.js';
export {
  WS_METRIC_NAMES,
  CLEANUP_DURATION_BUCKETS,
  defineWebSocketManagerMetrics,
  type WebSocketManagerMetricSet,
} from './websocket-manager.metric-definitions.js';
export { getOrCreateCounter, getOrCreateGauge, getOrCreateHistogram } from './get-or-create-metric.js';
export { CENSUS_SLICE, censusLocalManagers, countLocalManagers, type LocalManagerCensus, type LocalManagerCounts } from './local-manager-counts.js';
