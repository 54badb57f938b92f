import type { RedisClient } from './redis-connection.js';

/** Options of {@link RedisManagerRegistry}. Defaults come from `WS_MANAGER_DEFAULTS`. */
export interface RedisManagerRegistryOptions {
  /**
   * Where Redis is: `redis://host:port` (`rediss://` for TLS), a Redis Cluster as
   * `redis-cluster://host:port,host:port` (some of its nodes), or a primary behind Sentinel as
   * `redis-sentinel://host:port,host:port/masterName`. See `parseRedisUrl`.
   * @default 'redis://127.0.0.1:6379'
   */
  url?: string;
  /** Prepended to every key and channel, so deployments or tests can share one Redis. @default 'wsm:' */
  keyPrefix?: string;
  /**
   * Lifetime of this node's lease; it is refreshed every third of it. A node silent for this
   * long stops counting and its entries are reaped. @default 15000
   */
  leaseTtlMs?: number;
  /**
   * A command unanswered this long fails with `RegistryUnavailableError` (a connection that is up
   * but silent); commands while disconnected fail at once. @default 1000
   */
  commandTimeoutMs?: number;
  /** At most this many entries of dead nodes are reaped per lease tick. @default 100 */
  reapBatch?: number;
  /**
   * A client to use instead of connecting to `url` (tests, shared connections): a `Redis` or a
   * `Cluster` (with `shardedSubscribers: true`). The registry duplicates a `Redis` for pub/sub
   * and does not quit it on close: whoever made it owns it. Give it `enableOfflineQueue: false`
   * or a `commandTimeout` so that outages fail fast.
   */
  client?: RedisClient;
}
