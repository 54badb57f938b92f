import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { MANAGER_REGISTRY, WS_MANAGER_OPTIONS } from '../config/ws-manager.constants.js';
import type { ResolvedWsManagerOptions } from '../config/ws-manager.options.js';
import type { ManagerRegistry } from '../registry/manager-registry.interface.js';
import { RedisKeys } from '../registry/redis/redis-keys.js';

/**
 * The few commands the admin module sends on its own connection (ioredis's `Redis` and `Cluster`
 * both have them). Its own type, so that ioredis stays out of the package's public declarations.
 */
export interface AdminRedis {
  zrevrange(key: string, start: number, stop: number): Promise<string[]>;
  scard(key: string): Promise<number>;
  pipeline(): AdminRedisPipeline;
  disconnect(): void;
}

/** The pipeline commands of {@link AdminRedis}. */
export interface AdminRedisPipeline {
  zadd(key: string, score: number, member: string): unknown;
  zrem(key: string, member: string): unknown;
  zincrby(key: string, increment: number, member: string): unknown;
  zremrangebyscore(key: string, min: string | number, max: string | number): unknown;
  exec(): Promise<unknown>;
}

/** A registry that can list its lease table (the Redis one). */
interface WithLeases {
  leases(): Promise<{ nodeId: string; remainingMs: number }[]>;
}

/** One instance of the cluster, as `GET …/nodes` reports it. */
export interface AdminNodeView {
  nodeId: string;
  /** Whether its lease is current (the instance is alive and its managers count). */
  alive: boolean;
  /** Milliseconds since the lease was last renewed (`leaseTtlMs` − time left); `null` once it lapsed. */
  leaseAgeMs: number | null;
  /** Entries in its node set (managers it holds, including not-yet-reaped ones of a dead node). */
  managers: number;
  /** Whether it is the instance answering. */
  self: boolean;
}

/** Key of the admin module's own sorted set of users by manager count (never touched by a registry script). */
export const ADMIN_TOP_USERS_KEY = 'admin:top-users';

/**
 * Read-only view of the cluster: the registry's lease table (`RedisManagerRegistry.leases()`)
 * and, through the admin module's own connection (made on first use from `redisUrl`, any of its
 * forms; never the registry's), `SCARD` of each node's set (`RedisKeys.node`). It also owns
 * `<prefix>admin:top-users` (see `UserCountIndex`). In memory mode it does nothing.
 */
@Injectable()
export class AdminClusterReader implements OnModuleDestroy {
  private readonly logger = new Logger('WebSocketManagerAdmin');
  private readonly keys: RedisKeys;
  private client: Promise<AdminRedis> | null = null;

  constructor(
    @Inject(WS_MANAGER_OPTIONS) private readonly options: ResolvedWsManagerOptions,
    @Inject(MANAGER_REGISTRY) private readonly registry: ManagerRegistry,
  ) {
    this.keys = new RedisKeys(options.redisKeyPrefix);
  }

  /** Whether the registry is the Redis one (cluster mode). */
  get clustered(): boolean {
    return this.registry.kind === 'redis';
  }

  /** The full key of the admin module's top-users sorted set. */
  get topUsersKey(): string {
    return `${this.options.redisKeyPrefix}${ADMIN_TOP_USERS_KEY}`;
  }

  /** The admin module's Redis connection; only in cluster mode. */
  redis(): Promise<AdminRedis> {
    this.client ??= Promise.all([import('ioredis'), import('../registry/redis/redis-url.js'), import('../registry/redis/redis-connection.js')]).then(
      ([ioredis, { parseRedisUrl }, { createRedisClient }]) => {
        const client = createRedisClient(ioredis, parseRedisUrl(this.options.redisUrl), 2000);
        client.on('error', (error: unknown) => this.logger.debug(`admin redis: ${String(error)}`));
        return client.connect().then(() => client as unknown as AdminRedis);
      },
    );
    // A failed connect is not cached: the next request tries again.
    this.client.catch(() => (this.client = null));
    return this.client;
  }

  /** Every instance in the registry's lease table, with lease age and manager count; `[]` in memory mode. */
  async nodes(): Promise<AdminNodeView[]> {
    const leases = (this.registry as Partial<WithLeases>).leases;
    if (!this.clustered || !leases) return [];
    const table = (await leases.call(this.registry)).sort((a, b) => a.nodeId.localeCompare(b.nodeId));
    const redis = await this.redis();
    // One SCARD each: every node's set lives in its own slot, so no pipeline spans them on a cluster.
    const counts = await Promise.all(table.map(({ nodeId }) => redis.scard(this.keys.node(nodeId)).catch(() => 0)));
    return table.map(({ nodeId, remainingMs }, i) => ({
      nodeId,
      alive: remainingMs > 0,
      leaseAgeMs: remainingMs > 0 ? Math.max(0, this.options.leaseTtlMs - remainingMs) : null,
      managers: counts[i] ?? 0,
      self: nodeId === this.options.nodeId,
    }));
  }

  async onModuleDestroy(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (client) (await client).disconnect();
  }
}
