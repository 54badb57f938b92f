import { Injectable, Logger } from '@nestjs/common';
import { RegistryReplyError } from '../errors/registry-reply.error.js';
import { LocalManagerStore } from './local-manager.store.js';
import { ManagerLedger } from './manager-ledger.service.js';
import type { WebSocketManager } from './websocket-manager.js';

/** Outcome of a re-registration of everything held here. */
export interface ReRegistration {
  /** Managers held here afterwards, all counted. */
  kept: number;
  /** Managers closed because they no longer fit or their context moved to another instance. */
  evicted: number;
}

/**
 * Settles managers held here against the registry when it may no longer count them: after a
 * lapsed lease or an outage (everything, re-registered) and for the sweep's local-side
 * reconciliation (the ones its scan did not find). Each manager is confirmed under its user's
 * lock through {@link ManagerLedger}: counted again if it fits, closed with 4002 when another
 * manager holds its context, evicted otherwise.
 */
@Injectable()
export class ManagerReconciler {
  private readonly logger = new Logger('WebSocketManager');
  private reRegistering: Promise<ReRegistration> | null = null;
  private reRegisterAgain = false;

  constructor(
    private readonly ledger: ManagerLedger,
    private readonly store: LocalManagerStore,
  ) {}

  /**
   * Settles managers held here that the registry may no longer count (each under its user's
   * lock): re-counted when there is room, closed with 4002 when another manager holds the
   * context, evicted with `reasonWhenFull` otherwise. Returns how many were closed.
   */
  async settle(managers: Iterable<WebSocketManager>, reasonWhenFull: string): Promise<number> {
    let closed = 0;
    for (const manager of managers) {
      await this.ledger.withUser(manager.userId, async () => {
        if (this.store.get(manager.id) === manager && !(await this.settleLocked(manager, reasonWhenFull))) closed++;
      });
    }
    return closed;
  }

  /**
   * Re-registers everything held here after the registry may have lost it (an outage, a lapsed
   * lease): each user's managers most recently active first, so that what no longer fits is the
   * stalest, evicted with `lease_lost`. One run at a time; a request during a run runs again after.
   */
  reRegisterAll(): Promise<ReRegistration> {
    if (this.reRegistering) {
      this.reRegisterAgain = true;
      return this.reRegistering;
    }
    const run = async (): Promise<ReRegistration> => {
      const total: ReRegistration = { kept: 0, evicted: 0 };
      do {
        this.reRegisterAgain = false;
        const users = [...this.store.users()];
        await Promise.all(
          Array.from({ length: Math.min(16, users.length) }, async () => {
            for (let userId = users.pop(); userId !== undefined; userId = users.pop()) {
              const held = this.store.listByUser(userId).sort((a, b) => b.lastActivityAt - a.lastActivityAt);
              total.evicted += await this.settle(held, 'lease_lost');
            }
          }),
        );
      } while (this.reRegisterAgain);
      total.kept = this.store.size;
      this.logger.log(`re-registered ${total.kept} managers; evicted ${total.evicted} that no longer fit or moved`);
      return total;
    };
    this.reRegistering = run().finally(() => (this.reRegistering = null));
    return this.reRegistering;
  }

  /** `false` when the manager was closed. A registry outage keeps it (the next resync retries). */
  private async settleLocked(manager: WebSocketManager, reasonWhenFull: string): Promise<boolean> {
    const confirmation = await this.ledger.confirmLocked(manager, this.ledger.limitOf(manager.userId)).catch((error: unknown) => {
      if (error instanceof RegistryReplyError) throw error;
      return null;
    });
    if (!confirmation || confirmation.kind === 'counted') return true;
    this.ledger.dropLocal(manager, 'reconcile', confirmation.kind === 'taken' ? 'superseded' : reasonWhenFull, 'emergency');
    return false;
  }
}
