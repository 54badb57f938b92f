import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { EmergencyCleanupService } from '../cleanup/emergency-cleanup.service.js';
import { MANAGER_REGISTRY, WS_MANAGER_OPTIONS } from '../config/ws-manager.constants.js';
import type { ResolvedWsManagerOptions } from '../config/ws-manager.options.js';
import { ManagerLifecycleService } from '../lifecycle/manager-lifecycle.service.js';
import type { EvictionRequest, ManagerRegistry } from '../registry/manager-registry.interface.js';
import { LocalManagerStore } from './local-manager.store.js';
import { CloseCodes, type WebSocketManager } from './websocket-manager.js';

/**
 * What the registry tells this instance: eviction requests from cleanup on other instances (this
 * instance holds the sockets, so it closes them), and the end of a registry outage (everything
 * held here is counted again, respecting the limit).
 */
@Injectable()
export class RegistryEventsService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('WebSocketManager');
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    @Inject(WS_MANAGER_OPTIONS) private readonly options: ResolvedWsManagerOptions,
    @Inject(MANAGER_REGISTRY) private readonly registry: ManagerRegistry,
    private readonly store: LocalManagerStore,
    private readonly cleanup: EmergencyCleanupService,
    private readonly lifecycle: ManagerLifecycleService,
  ) {}

  onModuleInit(): void {
    this.unsubscribe.push(this.registry.onEvictionRequest((request) => this.onEvictionRequest(request)));
    const offReconnect = this.registry.onReconnect?.(() => {
      this.reRegisterAfterOutage().catch((error: unknown) => this.logger.error(`re-registration after the registry outage failed: ${String(error)}`));
    });
    if (offReconnect) this.unsubscribe.push(offReconnect);
  }

  onModuleDestroy(): void {
    for (const off of this.unsubscribe.splice(0)) off();
  }

  /**
   * After a registry outage: counts every manager held here again, through the same atomic
   * admission, so the limit still holds; what no longer fits is evicted with a reason.
   */
  async reRegisterAfterOutage(): Promise<{ kept: number; evicted: number }> {
    if (!this.registry.reRegister) return { kept: this.store.size, evicted: 0 };
    // Most recently active first: when a user no longer fits, the stalest sessions are the ones evicted.
    const records = [...this.store.values()].map((manager) => manager.toRecord()).sort((a, b) => b.lastActivityAt - a.lastActivityAt);
    const { admitted, refused } = await this.registry.reRegister(records, this.options.maxManagersPerUser);
    for (const record of refused) {
      await this.store.lock.run(record.userId, async () => {
        // A context another instance took meanwhile moved there (4002); otherwise the user is full.
        const holder = await this.registry.findByContext(record.userId, record.context).catch(() => null);
        const manager = this.store.get(record.managerId);
        if (holder && holder.managerId !== record.managerId && manager) this.closeHere(manager, 'reconcile', 'superseded', this.options.nodeId);
        else await this.cleanup.removeOne(record.userId, record.managerId, record.nodeId, 'reconcile', 'registry_refused', 'emergency');
      });
    }
    this.logger.log(`re-registered ${admitted.length} managers after the registry outage; evicted ${refused.length} that no longer fit`);
    return { kept: admitted.length, evicted: refused.length };
  }

  /** Another instance's cleanup chose a manager held here: close it (the requester frees the slot). */
  private onEvictionRequest(request: EvictionRequest): void {
    const manager = this.store.get(request.record.managerId);
    if (!manager || request.requestedBy === this.options.nodeId) return;
    this.closeHere(manager, request.level, request.reason, request.requestedBy);
  }

  /** Closes a manager held here whose registry entry is gone or taken: 4002 when superseded, else evicted (4001). */
  private closeHere(manager: WebSocketManager, level: string, reason: string, requestedBy: string): void {
    this.store.delete(manager);
    const superseded = reason === 'superseded';
    try {
      if (superseded) manager.closeAll(CloseCodes.Superseded, 'SUPERSEDED');
      else manager.closeAll(CloseCodes.Evicted, 'EVICTED', { event: 'evicted', data: { level, reason } });
    } catch (error) {
      this.logger.warn(`closing manager ${manager.id} on request of ${requestedBy} failed: ${String(error)}`);
    }
    this.lifecycle.emit({
      type: 'removed',
      userId: manager.userId,
      managerId: manager.id,
      context: manager.context,
      trigger: 'emergency',
      level,
      reason,
      evicted: !superseded,
      closeFailed: false,
    });
  }
}
