import { Inject, Injectable, Logger } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { MANAGER_REGISTRY, WS_MANAGER_OPTIONS } from '../config/ws-manager.constants.js';
import type { ResolvedWsManagerOptions } from '../config/ws-manager.options.js';
import { RegistryReplyError } from '../errors/registry-reply.error.js';
import { HeartbeatService } from '../heartbeat/heartbeat.service.js';
import type { CleanupTrigger } from '../lifecycle/manager-lifecycle.event.js';
import { logSafe } from '../lifecycle/log-safe.js';
import { ManagerLifecycleService } from '../lifecycle/manager-lifecycle.service.js';
import type { ManagerRecord } from '../registry/manager-record.js';
import type { AdmitResult, EvictionRequest, ManagerRegistry } from '../registry/manager-registry.interface.js';
import { InMemoryManagerRegistry } from '../registry/in-memory-manager.registry.js';
import { callInProcess, callRegistry } from '../registry/registry-call.js';
import { LocalManagerStore } from './local-manager.store.js';
import { ManagedConnection } from './managed-connection.js';
import { CloseCodes, WebSocketManager } from './websocket-manager.js';

/** Whether a manager held here is counted by the registry, after {@link ManagerLedger.confirmLocked}. */
export type Confirmation =
  | { kind: 'counted'; active: number }
  | { kind: 'taken'; holder: ManagerRecord }
  | { kind: 'full'; active: number };

/** Outcome of {@link ManagerLedger.removeLocked}. */
export interface Removal {
  /** The slot is free afterwards. */
  removed: boolean;
  /** Closing the manager's sockets threw (it was removed all the same). */
  closeFailed: boolean;
}

/**
 * The one home of "who holds what": every change to the socket ↔ connection ↔ manager index and
 * to the registry goes through here, under the user's lock, and updates both sides or settles
 * them against each other. Admission, resume, join, release, cleanup, remote eviction,
 * reconciliation and re-registration (`ManagerReconciler`) all use it; nothing else writes
 * either side.
 */
@Injectable()
export class ManagerLedger {
  private readonly logger = new Logger('WebSocketManager');
  private readonly limits = new Map<string, number>();
  private lastSyncWarningAt = 0;
  /** The registry answers within each call (the in-memory one itself; a subclass may do I/O): no deadline needed. */
  private readonly inProcess: boolean;

  constructor(
    @Inject(WS_MANAGER_OPTIONS) private readonly options: ResolvedWsManagerOptions,
    @Inject(MANAGER_REGISTRY) private readonly registry: ManagerRegistry,
    private readonly store: LocalManagerStore,
    private readonly heartbeat: HeartbeatService,
    private readonly lifecycle: ManagerLifecycleService,
  ) {
    this.inProcess = registry.constructor === InMemoryManagerRegistry;
  }

  /** Runs `section` holding `userId`'s lock (not re-entrant: `*Locked` methods expect it held). */
  withUser<T>(userId: string, section: () => Promise<T>): Promise<T> {
    return this.store.lock.run(userId, section);
  }

  /**
   * Runs a synchronous `section` holding `userId`'s lock, at once, when the registry answers in
   * this process (in-memory) and nothing holds or waits for the lock; `undefined` otherwise (the
   * caller takes the queued path). Used for the common admission without a turn of the loop,
   * with {@link admitInProcessLocked}.
   */
  withUserNow<T>(userId: string, section: () => T | undefined): T | undefined {
    if (!this.inProcess || this.store.lock.isBusy(userId)) return undefined;
    return this.store.lock.runNow(userId, section);
  }

  /** {@link admitLocked} inside {@link withUserNow}: the in-memory registry's answer, without a promise. */
  admitInProcessLocked(record: ManagerRecord, limit: number): AdmitResult {
    return (this.registry as InMemoryManagerRegistry).admitNow(record, limit);
  }

  /** The user's limit: the one given at the user's latest admission here, else the option. */
  limitOf(userId: string): number {
    return this.limits.get(userId) ?? this.options.maxManagersPerUser;
  }

  /**
   * One registry call, bounded by `registryTimeoutMs` (the in-memory registry answers within the
   * call: it is not bounded); a reply error is logged and counted.
   */
  call<T>(operation: string, fn: (registry: ManagerRegistry) => Promise<T>): Promise<T> {
    const run = () => fn(this.registry);
    const pending = this.inProcess ? callInProcess(operation, run) : callRegistry(operation, this.options.registryTimeoutMs, run);
    return pending.catch((error: unknown) => {
      if (error instanceof RegistryReplyError) {
        this.logger.error(error.message);
        this.lifecycle.emit({ type: 'registry_error', operation, message: error.message });
      }
      throw error;
    });
  }

  /** Adds a fresh record through the registry's atomic admission (lock held). */
  admitLocked(record: ManagerRecord, limit: number): Promise<AdmitResult> {
    return this.call('admit', (r) => r.admit(record, limit));
  }

  /**
   * Makes sure a manager held here is counted (lock held): confirmed when its entry is there,
   * re-added when the entry vanished and the user has room; otherwise says who took its context
   * or that there is no room. A leftover entry of this instance holding the context is cleared.
   */
  async confirmLocked(manager: WebSocketManager, limit: number): Promise<Confirmation> {
    for (let attempt = 0; ; attempt++) {
      const result = await this.admitLocked(manager.toRecord(), limit);
      const { existing } = result;
      if (result.admitted || existing?.managerId === manager.id) return { kind: 'counted', active: result.active };
      if (!existing) return { kind: 'full', active: result.active };
      const orphan = existing.nodeId === this.options.nodeId && !this.store.get(existing.managerId);
      if (!orphan || attempt > 0) return { kind: 'taken', holder: existing };
      await this.removeLocked(existing.userId, existing.managerId, existing.nodeId, 'reconcile', 'registry_orphan', 'emergency');
    }
  }

  /** Starts holding a manager the registry just admitted (lock held). */
  createLocked(record: ManagerRecord, limit: number): WebSocketManager {
    const manager = new WebSocketManager(record, { messages: this.options.resumeBuffer, bytes: this.options.resumeBufferBytes });
    this.store.add(manager);
    this.setLimit(record.userId, limit);
    this.lifecycle.emit({ type: 'created', userId: record.userId, managerId: record.managerId, context: record.context });
    return manager;
  }

  /**
   * Attaches a socket to a manager (lock held). A socket is on exactly one manager: it leaves the
   * one it was on. Connections past `maxConnectionsPerManager` are superseded (4002).
   */
  attachLocked(manager: WebSocketManager, socket: WebSocket, resumed: boolean): ManagedConnection {
    let connection = this.store.connectionOf(socket);
    if (!connection) {
      connection = new ManagedConnection(socket, manager.userId);
      this.heartbeat.track(connection);
    } else if (this.store.managerOf(connection) !== manager) {
      this.detachLocked(connection, false);
    }
    const wasDetached = !manager.isConnected;
    const superseded = manager.attach(connection, this.options.maxConnectionsPerManager);
    this.store.link(connection, manager);
    for (const old of superseded) {
      this.store.unlink(old);
      this.heartbeat.untrack(old);
      this.lifecycle.emit({ type: 'superseded', userId: manager.userId, managerId: manager.id, connectionId: old.id });
      try {
        old.socket.close(CloseCodes.Superseded, 'SUPERSEDED');
      } catch {
        old.socket.terminate();
      }
    }
    if (wasDetached && resumed) void this.syncRecord(manager);
    const { userId, id: managerId, context } = manager;
    this.lifecycle.emit({ type: 'attached', userId, managerId, context, connectionId: connection.id });
    if (resumed) this.lifecycle.emit({ type: 'resumed', userId, managerId, context, replayed: manager.bufferedCount });
    return connection;
  }

  /**
   * Takes a connection off its manager (lock held); the manager is detached when that was its
   * last. `forget` also drops the socket from the index (it closed).
   */
  detachLocked(connection: ManagedConnection, forget: boolean): void {
    const manager = this.store.managerOf(connection);
    if (forget) this.store.unlink(connection);
    else this.store.unlinkManager(connection);
    if (!manager?.detach(connection)) return;
    this.lifecycle.emit({ type: 'detached', userId: manager.userId, managerId: manager.id, context: manager.context });
    void this.syncRecord(manager);
  }

  /** The socket closed: forgets it and detaches its manager, under the user's lock. */
  async release(socket: WebSocket): Promise<void> {
    const connection = this.store.connectionOf(socket);
    if (!connection) return;
    this.heartbeat.untrack(connection);
    await this.withUser(connection.userId, async () => this.detachLocked(connection, true));
  }

  /**
   * Removes a manager wherever it is (lock held): closes its sockets here, or asks its owner to,
   * and removes its registry entry whatever the close did. `removed` is true when the slot is free.
   */
  async removeLocked(userId: string, managerId: string, nodeId: string, level: string, reason: string, trigger: CleanupTrigger): Promise<Removal> {
    const manager = this.store.get(managerId);
    let closeFailed = false;
    let evicted = false;
    if (manager) {
      evicted = manager.connections.size > 0;
      closeFailed = !this.closeHere(manager, CloseCodes.Evicted, level, reason);
    } else if (nodeId !== this.options.nodeId) {
      const record = await this.call('get', (r) => r.get(userId, managerId)).catch(() => null);
      if (record) {
        await this.call('requestEviction', (r) => r.requestEviction({ record, level, reason, requestedBy: this.options.nodeId })).catch((error: unknown) =>
          this.logger.warn(`eviction request for ${managerId} failed: ${String(error)}`),
        );
      }
    }
    let removed: boolean;
    try {
      removed = (await this.call('remove', (r) => r.remove(userId, managerId))) || manager !== undefined;
    } catch (error) {
      // A manager closed here whose entry stays is an orphan: the sweep's reconciliation removes it.
      this.logger.error(`registry removal of manager ${managerId} of user ${logSafe(userId)} failed: ${String(error)}`);
      removed = false;
    }
    if (removed) {
      const context = manager?.context ?? '';
      this.lifecycle.emit({ type: 'removed', userId, managerId, context, trigger, level, reason, evicted, closeFailed });
      if (evicted) this.logger.log(`evicted manager ${managerId} of user ${logSafe(userId)} (trigger=${trigger} level=${level} reason=${reason})`);
    }
    return { removed, closeFailed };
  }

  /**
   * Closes a manager held here whose registry entry is gone or belongs to another manager (lock
   * held); writes nothing to the registry. `superseded` closes with 4002, anything else evicts (4001).
   */
  dropLocal(manager: WebSocketManager, level: string, reason: string, trigger: CleanupTrigger): void {
    if (this.store.get(manager.id) !== manager) return;
    const superseded = reason === 'superseded';
    const evicted = manager.connections.size > 0 && !superseded;
    const closed = this.closeHere(manager, superseded ? CloseCodes.Superseded : CloseCodes.Evicted, level, reason);
    const { userId, id: managerId, context } = manager;
    this.lifecycle.emit({ type: 'removed', userId, managerId, context, trigger, level, reason, evicted, closeFailed: !closed });
    if (evicted) this.logger.log(`evicted manager ${managerId} of user ${logSafe(userId)} (level=${level} reason=${reason})`);
  }

  /** Another instance's cleanup removed the entry of a manager held here: close it, under the lock. */
  evictRequested(request: EvictionRequest): Promise<void> {
    const { userId, managerId } = request.record;
    return this.withUser(userId, async () => {
      const manager = this.store.get(managerId);
      if (manager) this.dropLocal(manager, request.level, request.reason, 'emergency');
    });
  }

  /**
   * When the leases of instances that stopped renewing them run out, as epoch ms, for the
   * refusal's hint. A live instance renews every TTL/3, so its lease never has less than about
   * 2/3 of the TTL left; one below 60 % missed a renewal. Empty when the registry has no leases
   * or cannot say.
   *
   * `holders` are the other instances (never this one) holding the refused user's entries. One
   * the lease table does not know (the table lost its data) is given a lease of one TTL here (see
   * `ManagerRegistry.adoptUnknownNodes`), and its expiry is the hint: if it is dead, its entries
   * stop counting then; otherwise they would count for good.
   */
  async silentLeaseExpiries(now: number, holders: ReadonlySet<string> = new Set()): Promise<Map<string, number>> {
    const expiries = new Map<string, number>();
    if (!this.registry.leases) return expiries;
    const table = await this.call('leases', (r) => r.leases!()).catch(() => undefined);
    if (!table) return expiries;
    // Admissions here see a lapse at this instance's next tick: add one tick period.
    const ttl = this.options.leaseTtlMs;
    const seenAfter = Math.ceil(ttl / 3);
    for (const { nodeId, remainingMs } of table) {
      if (nodeId !== this.options.nodeId && remainingMs > 0 && remainingMs < ttl * 0.6) expiries.set(nodeId, now + remainingMs + seenAfter);
    }
    const known = new Set(table.map((lease) => lease.nodeId));
    const unknown = [...holders].filter((nodeId) => !known.has(nodeId));
    if (unknown.length > 0 && this.registry.adoptUnknownNodes) {
      const adopted = await this.call('adoptUnknownNodes', (r) => r.adoptUnknownNodes!(unknown)).catch(() => []);
      for (const nodeId of adopted) expiries.set(nodeId, now + ttl + seenAfter);
      if (adopted.length > 0) {
        this.logger.warn(
          `instance(s) ${adopted.map((n) => logSafe(n)).join(', ')} hold sessions but had no lease (the lease table lost its data?): ` +
            `counted as alive for one more lease (${ttl} ms), then, unless renewed, as dead`,
        );
      }
    }
    return expiries;
  }

  /** How many managers the registry counts for the user (this instance's count if it cannot say). */
  async countUser(userId: string): Promise<number> {
    try {
      return await this.call('countByUser', (r) => r.countByUser(userId));
    } catch {
      return this.store.listByUser(userId).length;
    }
  }

  /** Closes a manager's sockets and stops holding it; `false` when a close threw. */
  private closeHere(manager: WebSocketManager, code: number, level: string, reason: string): boolean {
    this.store.delete(manager);
    for (const connection of manager.connections) this.heartbeat.untrack(connection);
    if (this.store.listByUser(manager.userId).length === 0) this.limits.delete(manager.userId);
    try {
      if (code === CloseCodes.Superseded) manager.closeAll(code, 'SUPERSEDED');
      else manager.closeAll(code, 'EVICTED', { event: 'evicted', data: { level, reason } });
      return true;
    } catch (error) {
      this.logger.warn(`closing manager ${manager.id} of user ${logSafe(manager.userId)} failed (${String(error)}); removing it anyway`);
      return false;
    }
  }

  /** Records the limit the identity gave for the user at an admission here. */
  setLimit(userId: string, limit: number): void {
    if (limit === this.options.maxManagersPerUser) this.limits.delete(userId);
    else this.limits.set(userId, limit);
  }

  /** Reports the manager's activity and detached state to the registry; failures are retried by the sweep. */
  private async syncRecord(manager: WebSocketManager): Promise<void> {
    const { lastActivityAt, detachedAt } = manager.toRecord();
    try {
      await this.call('update', (r) => r.update(manager.userId, manager.id, { lastActivityAt, detachedAt }));
      manager.reportedActivityAt = Math.max(manager.reportedActivityAt, lastActivityAt);
    } catch (error) {
      // Once per outage, not once per socket that closes during it.
      const now = Date.now();
      if (now - this.lastSyncWarningAt > 10_000) this.logger.warn(`could not update managers in the registry: ${String(error)}`);
      this.lastSyncWarningAt = now;
    }
  }
}
