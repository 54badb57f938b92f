import type { ResolvedWsManagerOptions } from '../config/ws-manager.options.js';
import { InMemoryManagerRegistry } from './in-memory-manager.registry.js';
import type { ManagerRegistry } from './manager-registry.interface.js';

/**
 * Builds (or takes) the registry the options name, not started yet. The module starts whatever
 * `MANAGER_REGISTRY` holds in `onModuleInit`, so a registry given through
 * `overrideProvider(MANAGER_REGISTRY)` is started the same way.
 */
export async function buildManagerRegistry(options: ResolvedWsManagerOptions): Promise<ManagerRegistry> {
  if (typeof options.registry === 'object') return options.registry;
  if (options.registry === 'redis') {
    // Imported on demand so that ioredis is needed only by applications that choose Redis.
    const { RedisManagerRegistry } = await import('./redis/redis-manager.registry.js');
    return new RedisManagerRegistry({ url: options.redisUrl, keyPrefix: options.redisKeyPrefix, leaseTtlMs: options.leaseTtlMs });
  }
  return new InMemoryManagerRegistry();
}

/** Builds the registry the options name and starts it for this node (outside the module). */
export async function createManagerRegistry(options: ResolvedWsManagerOptions): Promise<ManagerRegistry> {
  const registry = await buildManagerRegistry(options);
  await registry.start(options.nodeId);
  return registry;
}
