import { Injectable } from '@nestjs/common';
import { KeyedMutex } from './keyed-mutex.js';
import type { WebSocketManager } from './websocket-manager.js';

/**
 * The managers whose sockets live in this process, indexed by id and by user, so that per-user
 * work never scans other users. `lock` serialises admissions and cleanup per user.
 */
@Injectable()
export class LocalManagerStore {
  /** Per-user lock shared by admission and cleanup. */
  readonly lock = new KeyedMutex();
  private readonly byId = new Map<string, WebSocketManager>();
  private readonly byUser = new Map<string, Map<string, WebSocketManager>>();

  /** Managers held here. */
  get size(): number {
    return this.byId.size;
  }

  /** Starts holding a manager. */
  add(manager: WebSocketManager): void {
    this.byId.set(manager.id, manager);
    let user = this.byUser.get(manager.userId);
    if (!user) this.byUser.set(manager.userId, (user = new Map()));
    user.set(manager.id, manager);
  }

  /** A manager by id. */
  get(managerId: string): WebSocketManager | undefined {
    return this.byId.get(managerId);
  }

  /** The user's manager of a context (per-user scan: at most the user's limit). */
  findByContext(userId: string, context: string): WebSocketManager | undefined {
    for (const manager of this.byUser.get(userId)?.values() ?? []) {
      if (manager.context === context) return manager;
    }
    return undefined;
  }

  /** The user's managers held here. */
  listByUser(userId: string): WebSocketManager[] {
    return [...(this.byUser.get(userId)?.values() ?? [])];
  }

  /** Live iterator over every manager; entries removed meanwhile are skipped. */
  values(): IterableIterator<WebSocketManager> {
    return this.byId.values();
  }

  /** Stops holding a manager; `false` if this exact manager was not held. */
  delete(manager: WebSocketManager): boolean {
    if (this.byId.get(manager.id) !== manager) return false;
    this.byId.delete(manager.id);
    const user = this.byUser.get(manager.userId);
    user?.delete(manager.id);
    if (user?.size === 0) this.byUser.delete(manager.userId);
    return true;
  }
}
