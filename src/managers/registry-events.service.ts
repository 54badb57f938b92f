import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { MANAGER_REGISTRY } from '../config/ws-manager.constants.js';
import type { ManagerRegistry } from '../registry/manager-registry.interface.js';
import { ManagerLedger } from './manager-ledger.service.js';
import { ManagerReconciler, type ReRegistration } from './manager-reconciler.service.js';

/**
 * What the registry tells this instance: eviction requests from cleanup on other instances (this
 * instance holds the sockets, so it closes them), and that this instance's entries may have
 * stopped counting (an outage, a lapsed lease): everything held here is registered again,
 * respecting the limit. Both go through {@link ManagerLedger} under the user's lock.
 */
@Injectable()
export class RegistryEventsService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('WebSocketManager');
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    @Inject(MANAGER_REGISTRY) private readonly registry: ManagerRegistry,
    private readonly ledger: ManagerLedger,
    private readonly reconciler: ManagerReconciler,
  ) {}

  onModuleInit(): void {
    this.unsubscribe.push(
      this.registry.onEvictionRequest((request) => {
        this.ledger.evictRequested(request).catch((error: unknown) => this.logger.error(`eviction of manager ${request.record.managerId} failed: ${String(error)}`));
      }),
    );
    const offResync = this.registry.onResync?.(() => {
      this.reRegister().catch((error: unknown) => this.logger.error(`re-registration failed: ${String(error)}`));
    });
    if (offResync) this.unsubscribe.push(offResync);
  }

  onModuleDestroy(): void {
    for (const off of this.unsubscribe.splice(0)) off();
  }

  /**
   * Counts every manager held here again, through the same atomic admission, so the limit still
   * holds: what no longer fits is evicted (4001, `lease_lost`), a context another instance took
   * meanwhile is closed with 4002.
   */
  reRegister(): Promise<ReRegistration> {
    return this.reconciler.reRegisterAll();
  }
}
