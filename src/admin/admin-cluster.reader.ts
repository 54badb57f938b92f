import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { MANAGER_REGISTRY, WS_MANAGER_OPTIONS } from '../config/ws-manager.constants.js';
import type { ResolvedWsManagerOptions } from '../config/ws-manager.options.js';
import type { ManagerRegistry } from '../registry/manager-registry.interface.js';
import { outageAwareOptions } from '../registry/redis/redis-connection.js';
import { RedisKeys } from '../registry/redis/redis-keys.js';

/** One instance of the cluster, as `GET …/nodes` reports it. */
export interface AdminNodeView {
  nodeId: string;
  /** Whether its lease key exists (the instance is alive and its managers count). */
  alive: boolean;
  /** Milliseconds since the lease was last refreshed (`leaseTtlMs - PTTL`); `null` without a lease. */
  leaseAgeMs: number | null;
  /** Entries in its node set (managers it holds, including not-yet-reaped ones of a dead node). */
  managers: number;
  /** Whether it is the instance answering. */
  self: boolean;
}

/** Key of the admin module's own sorted set of users by manager count (never touched by a registry script). */
export const ADMIN_TOP_USERS_KEY = 'admin:top-users';

/**
 * Read-only view of the Redis registry's cluster keys, through the admin module's own
 * connection (made on first use from `redisUrl`; never the registry's). It reads exactly:
 * `SMEMBERS <prefix>nodes`, and per node `PTTL <prefix>lease:<nodeId>` and
 * `SCARD <prefix>node:<nodeId>:m`. It also owns `<prefix>admin:top-users` (see
 * `UserCountIndex`). In memory mode it does nothing.
 */
@Injectable()
export class AdminClusterReader implements OnModuleDestroy {
  private readonly logger = new Logger('WebSocketManagerAdmin');
  private readonly keys: RedisKeys;
  private client: Promise<Redis> | null = null;

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
  redis(): Promise<Redis> {
    this.client ??= import('ioredis').then(({ Redis: RedisClient }) => {
      const client = new RedisClient(this.options.redisUrl, { ...outageAwareOptions(2000), lazyConnect: false, enableOfflineQueue: true });
      client.on('error', (error: unknown) => this.logger.debug(`admin redis: ${String(error)}`));
      return client;
    });
    return this.client;
  }

  /** Every instance known to the registry, with lease age and manager count; `[]` in memory mode. */
  async nodes(): Promise<AdminNodeView[]> {
    if (!this.clustered) return [];
    const redis = await this.redis();
    const ids = (await redis.smembers(this.keys.nodes())).sort();
    const pipeline = redis.pipeline();
    for (const id of ids) pipeline.pttl(this.keys.lease(id)).scard(this.keys.node(id));
    const replies = (await pipeline.exec()) ?? [];
    return ids.map((nodeId, i) => {
      const pttl = Number(replies[2 * i]?.[1] ?? -2);
      const managers = Number(replies[2 * i + 1]?.[1] ?? 0);
      const alive = pttl > 0 || pttl === -1;
      return {
        nodeId,
        alive,
        leaseAgeMs: pttl > 0 ? Math.max(0, this.options.leaseTtlMs - pttl) : null,
        managers,
        self: nodeId === this.options.nodeId,
      };
    });
  }

  async onModuleDestroy(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (client) (await client).disconnect();
  }
}
