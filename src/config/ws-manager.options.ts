import type { CleanupLevel } from '../cleanup/cleanup-level.js';
import type { IdentityResolverOption } from '../gateway/identity-resolver.interface.js';
import type { ManagerRegistry } from '../registry/manager-registry.interface.js';
import type { Registry } from 'prom-client';

/** Which registry implementation holds the per-user manager counts. */
export type RegistryKind = 'memory' | 'redis';

/**
 * Options of `WebSocketManagerModule`. Every field is optional; the defaults are those of the
 * `WS_*` environment variables listed in the README. Options are validated once at start-up.
 */
export interface WsManagerOptions {
  /** WebSocket path. @default '/ws' */
  path?: string;
  /** Allowed `Origin` headers; when non-empty, any other origin gets HTTP 403. @default [] */
  allowedOrigins?: string[];
  /** Frames larger than this close the connection with 1009. @default 65536 */
  maxPayloadBytes?: number;
  /** Managers (connected + detached) one user may hold. @default 20 */
  maxManagersPerUser?: number;
  /** Connections per manager; one more supersedes the oldest (close 4002). @default 5 */
  maxConnectionsPerManager?: number;
  /** Protocol ping period. @default 30000 */
  heartbeatIntervalMs?: number;
  /** A ping unanswered this long marks the connection unresponsive; it is terminated. @default 10000 */
  heartbeatTimeoutMs?: number;
  /** How long the admission-time liveness probe waits for pongs. @default 1000 */
  probeTimeoutMs?: number;
  /** How long a detached manager can be re-attached. @default 120000 */
  resumeWindowMs?: number;
  /** Messages kept for a detached manager, oldest dropped first. @default 100 */
  resumeBuffer?: number;
  /**
   * Bytes of frames kept for a detached manager (beside the `resumeBuffer` count), oldest dropped
   * first: a few huge messages cannot hold more memory than this per manager. @default 1048576
   */
  resumeBufferBytes?: number;
  /**
   * Cap on a socket's send buffer (`ws` `bufferedAmount`: bytes written but not yet taken by the
   * peer). A send that would pass it closes the socket with 4009 `SLOW_CONSUMER` instead: a client
   * that does not read cannot make the server hold more than this for it. Must be ≥
   * `maxPayloadBytes`. @default 1048576
   */
  maxBufferedBytes?: number;
  /**
   * Inbound messages per second one connection may send on average (token bucket refill);
   * `0` turns the per-connection budget off. Over budget: `RATE_LIMITED`, then close 4008. @default 100
   */
  inboundRatePerConnection?: number;
  /** Messages one connection may send at once before its rate applies (bucket size). @default 200 */
  inboundBurstPerConnection?: number;
  /**
   * Inbound messages per second all of one user's connections on this instance may send
   * together; `0` turns the per-user budget off. @default 300
   */
  inboundRatePerUser?: number;
  /** Messages one user may send at once before the per-user rate applies. @default 600 */
  inboundBurstPerUser?: number;
  /** No inbound application message this long: idle. @default 300000 */
  idleThresholdMs?: number;
  /** No inbound application message this long: inactive. @default 3600000 */
  inactiveThresholdMs?: number;
  /** Cron expression (with seconds) of the scheduled sweep. @default '*\/30 * * * * *' */
  cleanupCron?: string;
  /** Highest level emergency cleanup may reach; `force` allows evicting healthy managers. @default 'aggressive' */
  maxCleanupLevel?: CleanupLevel | `${CleanupLevel}`;
  /** Graceful drain on shutdown before remaining sockets are terminated. @default 10000 */
  shutdownTimeoutMs?: number;
  /** Registry implementation, or an instance of your own. @default 'memory' */
  registry?: RegistryKind | ManagerRegistry;
  /**
   * Where Redis is, with `registry: 'redis'`: `redis://[user:pass@]host:port[/db]` (`rediss://`
   * for TLS) for one server; `redis-cluster://host:port,host:port` for a Redis Cluster (a few of
   * its nodes, the rest are discovered; `rediss-cluster://` for TLS); or
   * `redis-sentinel://host:port,host:port/masterName[/db]` for the primary these Sentinels name
   * (`rediss-sentinel://` for TLS).
   * @default 'redis://127.0.0.1:6379'
   */
  redisUrl?: string;
  /**
   * Prefix of every Redis key, so several deployments or tests can share one Redis. No `{` or `}`
   * (the registry puts its own hash tags after it). @default 'wsm:'
   */
  redisKeyPrefix?: string;
  /** This instance's id in a cluster. @default `${hostname}-${pid}` */
  nodeId?: string;
  /** A silent instance's managers stop counting after this. @default 15000 */
  leaseTtlMs?: number;
  /**
   * How long one registry call may take before it counts as an outage (the admission closes with
   * 1013 and the user's lock moves on), so that a hung registry never wedges a user.
   * @default 5000
   */
  registryTimeoutMs?: number;
  /** Managers assessed per event-loop turn by the sweep. @default 500 */
  sweepSliceSize?: number;
  /** Emergency-cleanup failures for one user within `alarmWindowMs` that raise the alarm. @default 3 */
  alarmThreshold?: number;
  /** Window of the emergency-cleanup alarm. @default 600000 */
  alarmWindowMs?: number;
  /**
   * Resolves the user of an upgrade request (and optionally that user's own limit): a function,
   * an injectable class with `resolve(request)`, or a token that provides one. None: every
   * handshake is refused with 401.
   * @default undefined
   */
  identityResolver?: IdentityResolverOption;
  /**
   * prom-client registry to put the `ws_manager_*` metrics on (get-or-create, so sharing it is
   * harmless); the module then adds no process metrics to it. Unset: a new registry per module
   * instance, with prom-client's process metrics.
   * @default undefined
   */
  metricsRegistry?: Registry;
}

/** Options after defaults and validation: what the module's services receive. */
export interface ResolvedWsManagerOptions
  extends Required<Omit<WsManagerOptions, 'identityResolver' | 'maxCleanupLevel' | 'registry' | 'metricsRegistry'>> {
  maxCleanupLevel: CleanupLevel;
  registry: RegistryKind | ManagerRegistry;
  identityResolver?: IdentityResolverOption;
  metricsRegistry?: Registry;
}
