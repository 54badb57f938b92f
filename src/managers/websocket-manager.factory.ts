import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { EmergencyCleanupService } from '../cleanup/emergency-cleanup.service.js';
import type { CleanupReport } from '../cleanup/cleanup-report.js';
import { MANAGER_REGISTRY, WS_MANAGER_OPTIONS } from '../config/ws-manager.constants.js';
import type { ResolvedWsManagerOptions } from '../config/ws-manager.options.js';
import { InvalidContextError } from '../errors/invalid-context.error.js';
import { ManagerLimitExceededError } from '../errors/manager-limit-exceeded.error.js';
import { RegistryUnavailableError } from '../errors/registry-unavailable.error.js';
import { HealthAssessmentService } from '../health/health-assessment.service.js';
import { HeartbeatService } from '../heartbeat/heartbeat.service.js';
import { ManagerLifecycleService } from '../lifecycle/manager-lifecycle.service.js';
import type { ManagerRecord } from '../registry/manager-record.js';
import type { AdmitResult, ManagerRegistry } from '../registry/manager-registry.interface.js';
import { LocalManagerStore } from './local-manager.store.js';
import { ManagedConnection } from './managed-connection.js';
import { CloseCodes, WebSocketManager } from './websocket-manager.js';

/** Context ids: 1–64 characters of `[A-Za-z0-9._:-]`. */
export const CONTEXT_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

/** What {@link WebSocketManagerFactory.acquire} needs. */
export interface AcquireRequest {
  /** Authenticated user id (never a client-supplied field). */
  userId: string;
  /** Session id; omitted: a fresh one is made. */
  context?: string;
  /** The socket to attach. */
  socket: WebSocket;
  /** This user's own limit of managers (from the identity step); omitted: `maxManagersPerUser`. */
  limit?: number;
  /**
   * Run emergency cleanup when the user is at the limit. `false` throws
   * {@link ManagerLimitExceededError} at once, for `EmergencyCleanupInterceptor` to handle.
   * @default true
   */
  emergencyCleanup?: boolean;
}

/** A socket admitted to a manager. */
export interface Admission {
  /** The manager the socket is attached to. */
  manager: WebSocketManager;
  /** The socket's tracked connection. */
  connection: ManagedConnection;
  /** An existing manager of that context was used: no new slot was taken. */
  resumed: boolean;
  /** The per-user limit. */
  limit: number;
  /** The user's managers after admission. */
  active: number;
  /** Emergency cleanup report when one ran, else `null`. */
  cleanup: CleanupReport | null;
}

/**
 * Creates or re-attaches the manager of (user, context), enforcing the per-user limit through
 * emergency cleanup. Whoever owns the socket calls {@link release} when it closes; if that is
 * missed, the socket's own state still marks the manager a zombie for the next cleanup.
 */
@Injectable()
export class WebSocketManagerFactory {
  private readonly logger = new Logger('WebSocketManager');
  private readonly bySocket = new WeakMap<WebSocket, ManagedConnection>();
  private readonly managerOf = new WeakMap<ManagedConnection, WebSocketManager>();
  private lastSyncWarningAt = 0;

  constructor(
    @Inject(WS_MANAGER_OPTIONS) private readonly options: ResolvedWsManagerOptions,
    @Inject(MANAGER_REGISTRY) private readonly registry: ManagerRegistry,
    private readonly store: LocalManagerStore,
    private readonly cleanup: EmergencyCleanupService,
    private readonly health: HealthAssessmentService,
    private readonly heartbeat: HeartbeatService,
    private readonly lifecycle: ManagerLifecycleService,
  ) {}

  /**
   * Admits `socket` to the manager of (user, context): re-attaches an existing one (`resumed`), or
   * creates one if the user is under the limit after the allowed emergency cleanup. Throws
   * {@link ManagerLimitExceededError} when no slot could be freed, {@link InvalidContextError} for a
   * bad context, {@link RegistryUnavailableError} when the registry cannot be reached.
   */
  async acquire(request: AcquireRequest): Promise<Admission> {
    const context = request.context ?? randomUUID();
    if (!CONTEXT_PATTERN.test(context)) throw new InvalidContextError(context);
    return this.store.lock.run(request.userId, () => this.acquireLocked(request, context));
  }

  /**
   * Moves a connection to another context of the same user (the wire `join`). The connection
   * stays where it was if the new context cannot be admitted.
   */
  async move(connection: ManagedConnection, context: string, emergencyCleanup = true): Promise<Admission> {
    const previous = this.managerOf.get(connection);
    if (previous?.context === context) {
      const active = await this.countUser(connection.userId);
      return { manager: previous, connection, resumed: true, limit: this.options.maxManagersPerUser, active, cleanup: null };
    }
    if (!CONTEXT_PATTERN.test(context)) throw new InvalidContextError(context);
    // Leave, admit and (on refusal) come back under the user's lock, so no concurrent cleanup
    // sees the manager being left as detached. Leaving first means the cleanup run by this
    // admission treats that manager as detached rather than evicting it with this socket on it.
    return this.store.lock.run(connection.userId, async () => {
      if (previous) this.detachFrom(previous, connection);
      try {
        return await this.acquireLocked({ userId: connection.userId, socket: connection.socket, emergencyCleanup }, context);
      } catch (error) {
        if (previous && this.store.get(previous.id) === previous && connection.isOpen) {
          this.attach(previous, connection.socket, false, await this.countUser(connection.userId), null);
          void this.syncRecord(previous);
        }
        throw error;
      }
    });
  }

  /**
   * Removes a manager this admission just created whose socket closed before the session was
   * established, so a connect-then-close does not hold a slot for a whole resume window.
   */
  async discard(admission: Admission): Promise<void> {
    this.release(admission.connection.socket);
    if (admission.resumed || admission.manager.isConnected) return;
    const { manager } = admission;
    await this.store.lock.run(manager.userId, () =>
      this.cleanup.removeOne(manager.userId, manager.id, manager.nodeId, 'reconcile', 'sockets_closed', 'emergency'),
    );
  }

  /** Detaches the socket's connection from its manager (call on socket close). */
  release(socket: WebSocket): void {
    const connection = this.bySocket.get(socket);
    if (!connection) return;
    this.bySocket.delete(socket);
    this.heartbeat.untrack(connection);
    const manager = this.managerOf.get(connection);
    if (manager) this.detachFrom(manager, connection);
  }

  /** The tracked connection of a socket. */
  connectionOf(socket: WebSocket): ManagedConnection | undefined {
    return this.bySocket.get(socket);
  }

  /** The manager a socket is attached to. */
  managerOfSocket(socket: WebSocket): WebSocketManager | undefined {
    const connection = this.bySocket.get(socket);
    return connection ? this.managerOf.get(connection) : undefined;
  }

  /** A manager held by this instance. */
  get(managerId: string): WebSocketManager | undefined {
    return this.store.get(managerId);
  }

  /** The user's managers held by this instance. */
  listLocal(userId: string): WebSocketManager[] {
    return this.store.listByUser(userId);
  }

  /** Every manager held by this instance (live iterator). */
  allLocal(): IterableIterator<WebSocketManager> {
    return this.store.values();
  }

  private async acquireLocked(request: AcquireRequest, context: string): Promise<Admission> {
    const { userId, socket } = request;
    const limit = this.options.maxManagersPerUser;
    const now = Date.now();
    const local = this.store.findByContext(userId, context);
    if (local && local.detachedAt !== null && now - local.detachedAt >= this.options.resumeWindowMs) {
      await this.cleanup.removeOne(userId, local.id, local.nodeId, 'reconcile', 'resume_window_expired', 'emergency');
    } else if (local) {
      return this.attach(local, socket, true, await this.countUser(userId), null);
    }

    const record: ManagerRecord = {
      managerId: randomUUID(),
      userId,
      context,
      nodeId: this.options.nodeId,
      createdAt: now,
      lastActivityAt: now,
      detachedAt: null,
    };
    let cleanup: CleanupReport | null = null;
    let result = await this.admit(record, limit);
    if (!result.admitted && !result.existing && request.emergencyCleanup !== false) {
      cleanup = await this.cleanup.runForUserLocked(userId, this.cleanup.emergencyPlan());
      result = await this.admit(record, limit);
    }
    if (!result.admitted) {
      const retryAfterMs = await this.retryAfter(userId);
      const error = new ManagerLimitExceededError(userId, limit, result.active, retryAfterMs, cleanup, context);
      // Without cleanup here the caller (EmergencyCleanupInterceptor) decides, and reports, the refusal.
      if (request.emergencyCleanup !== false) this.reportRejection(error);
      throw error;
    }
    const manager = new WebSocketManager(record, this.options.resumeBuffer);
    this.store.add(manager);
    this.lifecycle.emit({ type: 'created', userId, managerId: record.managerId, context });
    return this.attach(manager, socket, false, result.active, cleanup);
  }

  /** Admits through the registry, settling a leftover (user, context) entry first. */
  private async admit(record: ManagerRecord, limit: number): Promise<AdmitResult> {
    for (let attempt = 0; ; attempt++) {
      let result: AdmitResult;
      try {
        result = await this.registry.admit(record, limit);
      } catch (error) {
        throw error instanceof RegistryUnavailableError ? error : new RegistryUnavailableError(error);
      }
      if (!result.existing || attempt > 0) return result;
      // The context's entry has no manager here: an orphan of this node, or a session detached on
      // another instance. The newest connection wins; the old holder closes it (SUPERSEDED).
      const { existing } = result;
      const reason = existing.nodeId === this.options.nodeId ? 'registry_orphan' : 'superseded';
      await this.cleanup.removeOne(existing.userId, existing.managerId, existing.nodeId, 'reconcile', reason, 'emergency');
    }
  }

  /** Records a final refusal: lifecycle `rejected` event and a log line. */
  reportRejection(error: ManagerLimitExceededError): void {
    const { userId, context, limit, active } = error;
    this.lifecycle.emit({ type: 'rejected', userId, context, limit, active });
    this.logger.warn(`refused a session of user ${userId}: ${active}/${limit} managers and cleanup freed none`);
  }

  private attach(
    manager: WebSocketManager,
    socket: WebSocket,
    resumed: boolean,
    active: number,
    cleanup: CleanupReport | null,
  ): Admission {
    let connection = this.bySocket.get(socket);
    if (!connection) {
      connection = new ManagedConnection(socket, manager.userId);
      this.bySocket.set(socket, connection);
      this.heartbeat.track(connection);
    }
    const wasDetached = !manager.isConnected;
    const superseded = manager.attach(connection, this.options.maxConnectionsPerManager);
    this.managerOf.set(connection, manager);
    for (const old of superseded) {
      this.managerOf.delete(old);
      this.bySocket.delete(old.socket);
      this.heartbeat.untrack(old);
      this.lifecycle.emit({ type: 'superseded', userId: manager.userId, managerId: manager.id, connectionId: old.id });
      try {
        old.socket.close(CloseCodes.Superseded, 'SUPERSEDED');
      } catch {
        old.socket.terminate();
      }
    }
    if (wasDetached && resumed) void this.syncRecord(manager);
    this.lifecycle.emit({ type: 'attached', userId: manager.userId, managerId: manager.id, context: manager.context, connectionId: connection.id });
    if (resumed) {
      this.lifecycle.emit({ type: 'resumed', userId: manager.userId, managerId: manager.id, context: manager.context, replayed: manager.bufferedCount });
    }
    return { manager, connection, resumed, limit: this.options.maxManagersPerUser, active, cleanup };
  }

  private detachFrom(manager: WebSocketManager, connection: ManagedConnection): void {
    if (this.managerOf.get(connection) === manager) this.managerOf.delete(connection);
    if (!manager.detach(connection)) return;
    this.lifecycle.emit({ type: 'detached', userId: manager.userId, managerId: manager.id, context: manager.context });
    void this.syncRecord(manager);
  }

  private async syncRecord(manager: WebSocketManager): Promise<void> {
    const { lastActivityAt, detachedAt } = manager.toRecord();
    try {
      await this.registry.update(manager.userId, manager.id, { lastActivityAt, detachedAt });
      manager.reportedActivityAt = Math.max(manager.reportedActivityAt, lastActivityAt);
    } catch (error) {
      // Once per outage, not once per socket that closes during it.
      const now = Date.now();
      if (now - this.lastSyncWarningAt > 10_000) this.logger.warn(`could not update managers in the registry: ${String(error)}`);
      this.lastSyncWarningAt = now;
    }
  }

  private async countUser(userId: string): Promise<number> {
    try {
      return await this.registry.countByUser(userId);
    } catch {
      return this.store.listByUser(userId).length;
    }
  }

  /** When a slot may free: the first detached manager's resume expiry, else one heartbeat cycle. */
  private async retryAfter(userId: string): Promise<number> {
    const o = this.options;
    const now = Date.now();
    let soonest = o.heartbeatIntervalMs + o.heartbeatTimeoutMs;
    for (const a of await this.health.assessUser(userId, now).catch(() => [])) {
      if (a.detachedAt !== null) soonest = Math.min(soonest, a.detachedAt + o.resumeWindowMs - now);
    }
    return Math.max(1000, Math.ceil(soonest));
  }
}
