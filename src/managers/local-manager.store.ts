import { Injectable, Logger } from '@nestjs/common';
import { logSafe } from '../lifecycle/log-safe.js';
import type { WebSocket } from 'ws';
import { KeyedMutex } from './keyed-mutex.js';
import type { ManagedConnection } from './managed-connection.js';
import type { WebSocketManager } from './websocket-manager.js';

/**
 * The managers whose sockets live in this process, indexed by id, by user and by socket, so that
 * per-user work never scans other users. Pure data: every change goes through `ManagerLedger`,
 * which holds the user's `lock` while it changes both this index and the registry.
 */
@Injectable()
export class LocalManagerStore {
  /**
   * Per-user lock shared by admission, cleanup, release and reconciliation. Registry calls under
   * it are bounded (`registryTimeoutMs`); a section still waiting after 30 s runs anyway and says so.
   */
  readonly lock = new KeyedMutex(30_000, (userId) =>
    new Logger('WebSocketManager').warn(`user ${logSafe(userId)}'s lock was held for 30 s; the next section ran anyway (a hung call, or a section waiting for its own user)`),
  );
  private readonly byId = new Map<string, WebSocketManager>();
  private readonly byUser = new Map<string, Map<string, WebSocketManager>>();
  private readonly bySocket = new WeakMap<WebSocket, ManagedConnection>();
  private readonly managerOfConnection = new WeakMap<ManagedConnection, WebSocketManager>();

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

  /** Users with at least one manager here. */
  users(): IterableIterator<string> {
    return this.byUser.keys();
  }

  /** Live iterator over every manager; entries removed meanwhile are skipped. */
  values(): IterableIterator<WebSocketManager> {
    return this.byId.values();
  }

  /**
   * Stops holding a manager and forgets which sockets were on it; `false` if this exact manager
   * was not held. Its connections are left to the caller (closing them is policy, not data).
   */
  delete(manager: WebSocketManager): boolean {
    if (this.byId.get(manager.id) !== manager) return false;
    this.byId.delete(manager.id);
    const user = this.byUser.get(manager.userId);
    user?.delete(manager.id);
    if (user?.size === 0) this.byUser.delete(manager.userId);
    for (const connection of manager.connections) this.unlink(connection);
    return true;
  }

  /** The tracked connection of a socket. */
  connectionOf(socket: WebSocket): ManagedConnection | undefined {
    return this.bySocket.get(socket);
  }

  /** The manager a connection is attached to. */
  managerOf(connection: ManagedConnection): WebSocketManager | undefined {
    return this.managerOfConnection.get(connection);
  }

  /** Records that `connection` (and its socket) is on `manager`: a connection is on one manager. */
  link(connection: ManagedConnection, manager: WebSocketManager): void {
    this.bySocket.set(connection.socket, connection);
    this.managerOfConnection.set(connection, manager);
  }

  /** Records that `connection` is on no manager (its socket stays known). */
  unlinkManager(connection: ManagedConnection): void {
    this.managerOfConnection.delete(connection);
  }

  /** Forgets a connection and its socket entirely. */
  unlink(connection: ManagedConnection): void {
    this.managerOfConnection.delete(connection);
    if (this.bySocket.get(connection.socket) === connection) this.bySocket.delete(connection.socket);
  }
}
