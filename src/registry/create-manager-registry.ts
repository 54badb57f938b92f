import type { ResolvedWsManagerOptions } from '../config/ws-manager.options.js';
import { InMemoryManagerRegistry } from './in-memory-manager.registry.js';
import type { ManagerRegistry } from './manager-registry.interface.js';

/** Builds (or takes) the registry the options name and starts it for this node. */
export async function createManagerRegistry(options: ResolvedWsManagerOptions): Promise<ManagerRegistry> {
  let registry: ManagerRegistry;
  if (typeof options.registry === 'object') {
    registry = options.registry;
  } else if (options.registry === 'redis') {
    throw new Error('registry "redis" is not available in this build');
  } else {
    registry = new InMemoryManagerRegistry();
  }
  await registry.start(options.nodeId);
  return registry;
}
