/**
 * Injection token of the prom-client `Registry` the module's metrics live in. By default a new
 * registry per module instance (with prom-client's process metrics collected on it), never the
 * global `register`, so that two applications in one process never share counters.
 */
export const WS_METRICS_REGISTRY = Symbol('WS_METRICS_REGISTRY');

/** Prefix of every metric of this module. */
export const WS_METRICS_PREFIX = 'ws_manager_';
