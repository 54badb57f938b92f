import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { MANAGER_REGISTRY, WS_MANAGER_OPTIONS } from '../config/ws-manager.constants.js';
import type { ResolvedWsManagerOptions } from '../config/ws-manager.options.js';
import { ManagerLifecycleService } from '../lifecycle/manager-lifecycle.service.js';
import { LocalManagerStore } from '../managers/local-manager.store.js';
import type { ManagerRegistry } from '../registry/manager-registry.interface.js';
import { AdminClusterReader } from './admin-cluster.reader.js';

/** One user of `GET …/users?top=N`. */
export interface TopUserEntry {
  userId: string;
  /** Managers the user holds (all instances in cluster mode, read from the registry). */
  managers: number;
  /** The per-user limit. */
  limit: number;
}

/** Largest `top` the API accepts. */
export const MAX_TOP_USERS = 100;

/** How often, at most, this instance's count changes are written to the shared sorted set. */
const FLUSH_INTERVAL_MS = 1000;

/**
 * Users by manager count, so that "who is near the limit" never scans the registry.
 *
 * Locally: a count per user of the managers held here, bucketed by count, built from the store on
 * first use and then kept by the lifecycle events (each event only marks its user dirty; the
 * user's count is re-read from the store when the index is next read). In memory mode that is
 * the whole registry. In cluster mode each instance also adds its changes, batched once a second,
 * to the sorted set `<prefix>admin:top-users` with `ZINCRBY` through the admin module's own
 * connection; a read takes the top N from it and corrects each listed user with the registry's
 * exact `countByUser` (so a dead node's stale score heals when it is shown). Ranking is therefore
 * approximate in cluster mode; the counts shown are exact.
 */
@Injectable()
export class UserCountIndex implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('WebSocketManagerAdmin');
  private readonly counts = new Map<string, number>();
  private readonly buckets = new Map<number, Set<string>>();
  private readonly dirty = new Set<string>();
  private readonly pendingDeltas = new Map<string, number>();
  private seeded = false;
  private subscription?: Subscription;
  private flushTimer?: NodeJS.Timeout;

  constructor(
    @Inject(WS_MANAGER_OPTIONS) private readonly options: ResolvedWsManagerOptions,
    @Inject(MANAGER_REGISTRY) private readonly registry: ManagerRegistry,
    private readonly store: LocalManagerStore,
    private readonly lifecycle: ManagerLifecycleService,
    private readonly cluster: AdminClusterReader,
  ) {}

  onApplicationBootstrap(): void {
    // In cluster mode other instances read what this one writes, so it keeps the set from the start.
    if (this.cluster.clustered) this.ensureTracking();
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    clearInterval(this.flushTimer);
  }

  /** The `n` users with the most managers, most first. */
  async top(n: number): Promise<TopUserEntry[]> {
    this.ensureTracking();
    this.refresh();
    const limit = this.options.maxManagersPerUser;
    if (!this.cluster.clustered) return this.localTop(n).map(([userId, managers]) => ({ userId, managers, limit }));
    await this.flush();
    const redis = await this.cluster.redis();
    const flat = await redis.zrevrange(this.cluster.topUsersKey, 0, n - 1);
    const exact = await Promise.all(flat.map(async (userId) => [userId, await this.registry.countByUser(userId)] as const));
    const fix = redis.pipeline();
    for (const [userId, managers] of exact) {
      if (managers > 0) fix.zadd(this.cluster.topUsersKey, managers, userId);
      else fix.zrem(this.cluster.topUsersKey, userId);
    }
    await fix.exec();
    return exact
      .filter(([, managers]) => managers > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([userId, managers]) => ({ userId, managers, limit }));
  }

  private localTop(n: number): [string, number][] {
    const result: [string, number][] = [];
    const sizes = [...this.buckets.keys()].sort((a, b) => b - a);
    for (const size of sizes) {
      for (const userId of this.buckets.get(size)!) {
        if (result.length >= n) return result;
        result.push([userId, size]);
      }
    }
    return result;
  }

  /** Starts following the lifecycle (and seeds from the store) on first use: no cost before. */
  private ensureTracking(): void {
    if (this.seeded) return;
    this.seeded = true;
    for (const manager of this.store.values()) this.dirty.add(manager.userId);
    this.subscription = this.lifecycle.listen((event) => {
      if (event.type === 'created' || event.type === 'removed') this.dirty.add(event.userId);
    });
    if (this.cluster.clustered) {
      this.flushTimer = setInterval(() => {
        this.refresh();
        this.flush().catch((error: unknown) => this.logger.warn(`admin: top-users flush failed: ${String(error)}`));
      }, FLUSH_INTERVAL_MS);
      this.flushTimer.unref();
    }
  }

  /** Re-reads the count of every dirty user from the store. */
  private refresh(): void {
    for (const userId of this.dirty) {
      const before = this.counts.get(userId) ?? 0;
      const after = this.store.listByUser(userId).length;
      if (before === after) continue;
      this.buckets.get(before)?.delete(userId);
      if (this.buckets.get(before)?.size === 0) this.buckets.delete(before);
      if (after === 0) this.counts.delete(userId);
      else {
        this.counts.set(userId, after);
        let bucket = this.buckets.get(after);
        if (!bucket) this.buckets.set(after, (bucket = new Set()));
        bucket.add(userId);
      }
      if (this.cluster.clustered) this.pendingDeltas.set(userId, (this.pendingDeltas.get(userId) ?? 0) + after - before);
    }
    this.dirty.clear();
  }

  private async flush(): Promise<void> {
    if (this.pendingDeltas.size === 0) return;
    const deltas = [...this.pendingDeltas];
    this.pendingDeltas.clear();
    const redis = await this.cluster.redis();
    const pipeline = redis.pipeline();
    for (const [userId, delta] of deltas) if (delta !== 0) pipeline.zincrby(this.cluster.topUsersKey, delta, userId);
    pipeline.zremrangebyscore(this.cluster.topUsersKey, '-inf', 0);
    await pipeline.exec();
  }
}
