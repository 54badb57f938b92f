import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { MANAGER_REGISTRY, WS_MANAGER_OPTIONS } from './config/ws-manager.constants.js';
import { WS_MANAGER_DEFAULTS } from './config/ws-manager.defaults.js';
import type { ResolvedWsManagerOptions } from './config/ws-manager.options.js';
import { InvalidOptionsError } from './errors/invalid-options.error.js';
import type { ManagerRegistry } from './registry/manager-registry.interface.js';

/**
 * Starts the registry in `onModuleInit` and closes it on shutdown, whatever `MANAGER_REGISTRY`
 * holds (an `overrideProvider(MANAGER_REGISTRY)` in a testing module gets a started registry).
 * It depends only on the options and the registry, so Nest runs its `onModuleInit` before that of
 * any service using the registry, and before any timer of the module starts (those start at
 * bootstrap): options that are not complete fail here, with no timer left behind.
 */
@Injectable()
export class WebSocketManagerStartup implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(WS_MANAGER_OPTIONS) private readonly options: ResolvedWsManagerOptions,
    @Inject(MANAGER_REGISTRY) private readonly registry: ManagerRegistry,
  ) {}

  async onModuleInit(): Promise<void> {
    const missing = [...Object.keys(WS_MANAGER_DEFAULTS), 'nodeId'].filter(
      (key) => (this.options as unknown as Record<string, unknown>)[key] === undefined,
    );
    if (missing.length > 0) {
      throw new InvalidOptionsError(
        missing.map((name) => ({
          name,
          value: undefined,
          rule: 'WS_MANAGER_OPTIONS holds resolved options only: override WS_MANAGER_MODULE_OPTIONS with a partial object (it is validated and completed), or pass resolveWsManagerOptions(...)',
        })),
      );
    }
    await this.registry.start(this.options.nodeId);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.registry.close();
  }
}
