import type { ResolvedWsManagerOptions } from '../config/ws-manager.options.js';
import { InMemoryManagerRegistry } from './in-memory-manager.registry.js';
import type { ManagerRegistry } from './manager-registry.interface.js';

/** Builds (or takes) the registry the options name and starts it for this node. */
export async function createManagerRegistry(options: ResolvedWsManagerOptions): Promise<ManagerRegistry> {
  let registry: ManagerRegistry;
  if (typeof options.registry === 'object') {
    registry = options.registry;
  } else if (options.registry === 'redis') {
    // Imported on demand so that ioredis is needed only by applications that choose Redis.
    const { RedisManagerRegistry } = await import('./redis/redis-manager.registry.js');
    registry = new RedisManagerRegistry({ url: options.redisUrl, keyPrefix: options.redisKeyPrefix, leaseTtlMs: options.leaseTtlMs });
  } else {
    registry = new InMemoryManagerRegistry();
  }
  await registry.start(options.nodeId);
  return registry;
}
