import { Inject, Injectable, Logger } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { EmergencyCleanupService } from '../cleanup/emergency-cleanup.service.js';
import type { CleanupReport } from '../cleanup/cleanup-report.js';
import { WS_MANAGER_OPTIONS } from '../config/ws-manager.constants.js';
import type { ResolvedWsManagerOptions } from '../config/ws-manager.options.js';
import { ContextBusyError } from '../errors/context-busy.error.js';
import { InvalidContextError } from '../errors/invalid-context.error.js';
import { InvalidUserIdError } from '../errors/invalid-user-id.error.js';
import { isAcceptableUserId } from '../gateway/user-id.js';
import { logSafe } from '../lifecycle/log-safe.js';
import { retryAfter } from '../cleanup/retry-after.js';
import { ManagerLimitExceededError } from '../errors/manager-limit-exceeded.error.js';
import { HealthAssessmentService } from '../health/health-assessment.service.js';
import { ManagerLifecycleService } from '../lifecycle/manager-lifecycle.service.js';
import type { ManagerRecord } from '../registry/manager-record.js';
import type { AdmitResult } from '../registry/manager-registry.interface.js';
import { randomId } from './flat-string.js';
import { LocalManagerStore } from './local-manager.store.js';
import type { ManagedConnection } from './managed-connection.js';
import { ManagerLedger } from './manager-ledger.service.js';
import type { WebSocketManager } from './websocket-manager.js';

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

/** How often an admission supersedes a context that another instance keeps taking back. */
const SUPERSEDE_ATTEMPTS = 3;

/**
 * Admission policy: creates or re-attaches the manager of (user, context), enforcing the per-user
 * limit through emergency cleanup, and refuses with a reason when no slot frees. Who holds what
 * is changed only through {@link ManagerLedger}, under the user's lock. Whoever owns the socket
 * calls {@link release} when it closes; if that is missed, the socket's own state still marks the
 * manager a zombie for the next cleanup.
 */
@Injectable()
export class WebSocketManagerFactory {
  private readonly logger = new Logger('WebSocketManager');

  constructor(
    @Inject(WS_MANAGER_OPTIONS) private readonly options: ResolvedWsManagerOptions,
    private readonly store: LocalManagerStore,
    private readonly ledger: ManagerLedger,
    private readonly cleanup: EmergencyCleanupService,
    private readonly health: HealthAssessmentService,
    private readonly lifecycle: ManagerLifecycleService,
  ) {}

  /**
   * Admits `socket` to the manager of (user, context): re-attaches an existing one (`resumed`), or
   * creates one if the user is under the limit after the allowed emergency cleanup. Throws
   * {@link ManagerLimitExceededError} when no slot could be freed, {@link InvalidContextError} for a
   * bad context, `RegistryUnavailableError` when the registry cannot be reached (or does not answer
   * within `registryTimeoutMs`), `RegistryReplyError` when it answers with an error, and
   * {@link ContextBusyError} when other instances keep taking the context back.
   */
  async acquire(request: AcquireRequest): Promise<Admission> {
    const context = request.context ?? randomId();
    if (!isAcceptableUserId(request.userId)) throw new InvalidUserIdError();
    if (!CONTEXT_PATTERN.test(context)) throw new InvalidContextError(context);
    return this.admitNow(request, context) ?? this.ledger.withUser(request.userId, () => this.acquireLocked(request, context));
  }

  /**
   * The common admission without a turn of the event loop: the in-memory registry, nobody holding
   * or waiting for the user's lock, a context this instance does not hold, and room under the
   * limit. `undefined` for anything else (resume, a held context, the limit reached, a registry
   * elsewhere), which {@link acquireLocked} decides; nothing was changed then.
   */
  private admitNow(request: AcquireRequest, context: string): Admission | undefined {
    const { userId, socket } = request;
    return this.ledger.withUserNow(userId, () => {
      if (this.store.findByContext(userId, context)) return undefined;
      const limit = request.limit ?? this.options.maxManagersPerUser;
      const record = this.newRecord(userId, context);
      const result = this.ledger.admitInProcessLocked(record, limit);
      return result.admitted ? this.admitted(record, limit, socket, result.active, null) : undefined;
    });
  }

  /**
   * Moves a connection to another context of the same user (the wire `join`). The connection
   * stays where it was if the new context cannot be admitted. The whole move runs under the
   * user's lock, so a socket is on exactly one manager whatever else arrives meanwhile.
   */
  move(connection: ManagedConnection, context: string, emergencyCleanup = true): Promise<Admission> {
    const { userId } = connection;
    return this.ledger.withUser(userId, async () => {
      const previous = this.store.managerOf(connection);
      const limit = this.ledger.limitOf(userId);
      if (previous?.context === context) {
        return { manager: previous, connection, resumed: true, limit, active: await this.ledger.countUser(userId), cleanup: null };
      }
      if (!CONTEXT_PATTERN.test(context)) throw new InvalidContextError(context);
      // Leaving first means the cleanup run by this admission sees the manager being left as
      // detached rather than evicting it with this socket on it.
      if (previous) this.ledger.detachLocked(connection, false);
      try {
        return await this.acquireLocked({ userId, socket: connection.socket, emergencyCleanup, limit }, context);
      } catch (error) {
        if (!previous || this.store.get(previous.id) !== previous || !connection.isOpen) throw error;
        this.ledger.attachLocked(previous, connection.socket, true);
        // The hint was judged while the manager being left looked detached; it is not any more.
        if (error instanceof ManagerLimitExceededError) throw await this.refusal(error.userId, error.limit, error.active, error.cleanup, error.context);
        throw error;
      }
    });
  }

  /**
   * Removes a manager this admission just created whose socket closed before the session was
   * established, so a connect-then-close does not hold a slot for a whole resume window.
   */
  async discard(admission: Admission): Promise<void> {
    await this.release(admission.connection.socket);
    if (admission.resumed) return;
    const { manager } = admission;
    await this.ledger.withUser(manager.userId, async () => {
      if (this.store.get(manager.id) !== manager || manager.isConnected) return;
      await this.ledger.removeLocked(manager.userId, manager.id, manager.nodeId, 'reconcile', 'sockets_closed', 'emergency');
    });
  }

  /** Detaches the socket's connection from its manager (call on socket close). */
  release(socket: WebSocket): Promise<void> {
    return this.ledger.release(socket);
  }

  /** The tracked connection of a socket. */
  connectionOf(socket: WebSocket): ManagedConnection | undefined {
    return this.store.connectionOf(socket);
  }

  /** The manager a socket is attached to. */
  managerOfSocket(socket: WebSocket): WebSocketManager | undefined {
    const connection = this.store.connectionOf(socket);
    return connection ? this.store.managerOf(connection) : undefined;
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
    const limit = request.limit ?? this.options.maxManagersPerUser;
    const now = Date.now();
    const local = this.store.findByContext(userId, context);
    if (local && local.detachedAt !== null && now - local.detachedAt >= this.options.resumeWindowMs) {
      await this.ledger.removeLocked(userId, local.id, local.nodeId, 'reconcile', 'resume_window_expired', 'emergency');
    } else if (local) {
      // A resume is served only once the registry counts it: its entry may have been reaped (a
      // lapsed lease) or taken by a newer connection on another instance.
      const confirmation = await this.ledger.confirmLocked(local, limit);
      if (confirmation.kind === 'counted') {
        this.ledger.setLimit(userId, limit);
        const connection = this.ledger.attachLocked(local, socket, true);
        return { manager: local, connection, resumed: true, limit, active: confirmation.active, cleanup: null };
      }
      this.ledger.dropLocal(local, 'reconcile', confirmation.kind === 'taken' ? 'superseded' : 'registry_lost', 'emergency');
    }

    const record = this.newRecord(userId, context, now);
    let cleanup: CleanupReport | null = null;
    let result = await this.admit(record, limit);
    if (!result.admitted && !result.adopt && request.emergencyCleanup !== false) {
      cleanup = await this.cleanup.runForUserLocked(userId, { ...this.cleanup.emergencyPlan(), limit });
      result = await this.admit(record, limit);
    }
    if (result.adopt) {
      const adopted = this.ledger.createLocked(result.adopt, limit);
      return { manager: adopted, connection: this.ledger.attachLocked(adopted, socket, true), resumed: true, limit, active: result.active, cleanup };
    }
    if (!result.admitted) {
      const error = await this.refusal(userId, limit, result.active, cleanup, context);
      // Without cleanup here the caller (EmergencyCleanupInterceptor) decides, and reports, the refusal.
      if (request.emergencyCleanup !== false) this.reportRejection(error);
      throw error;
    }
    return this.admitted(record, limit, socket, result.active, cleanup);
  }

  /** A fresh manager's record on this instance. */
  private newRecord(userId: string, context: string, now = Date.now()): ManagerRecord {
    return { managerId: randomId(), userId, context, nodeId: this.options.nodeId, createdAt: now, lastActivityAt: now, detachedAt: null };
  }

  /** Starts holding a manager the registry just admitted, with `socket` on it (lock held). */
  private admitted(record: ManagerRecord, limit: number, socket: WebSocket, active: number, cleanup: CleanupReport | null): Admission {
    const manager = this.ledger.createLocked(record, limit);
    const connection = this.ledger.attachLocked(manager, socket, false);
    return { manager, connection, resumed: false, limit, active, cleanup };
  }

  /**
   * Admits through the registry. A context held by a manager that is not here (another
   * instance's, or an orphan of this one) is superseded: the newest connection wins and the old
   * holder closes it with 4002. Returns only "admitted" or "full". When other instances keep
   * taking the context back, it gives up with {@link ContextBusyError} and leaves the last holder
   * in place: removing it without a further attempt could leave the context held by nobody.
   */
  private async admit(record: ManagerRecord, limit: number): Promise<AdmitResult & { adopt?: ManagerRecord }> {
    for (let attempt = 1; ; attempt++) {
      const result = await this.ledger.admitLocked(record, limit);
      const { existing } = result;
      if (!existing) return result;
      // An entry of this instance's own id with no manager here: this process restarted (same
      // WS_NODE_ID) and the registry kept the session. Inside its resume window it is taken back
      // (same managerId; what it had buffered died with the old process); past it, removed.
      const own = existing.nodeId === this.options.nodeId;
      const resumable = existing.detachedAt === null || Date.now() - existing.detachedAt < this.options.resumeWindowMs;
      if (own && resumable) return { ...result, adopt: existing };
      if (attempt >= SUPERSEDE_ATTEMPTS) throw new ContextBusyError(record.userId, record.context);
      const reason = own ? 'resume_window_expired' : 'superseded';
      await this.ledger.removeLocked(existing.userId, existing.managerId, existing.nodeId, 'reconcile', reason, 'emergency');
    }
  }

  /** Records a final refusal: lifecycle `rejected` event and a log line. */
  reportRejection(error: ManagerLimitExceededError): void {
    const { userId, context, limit, active } = error;
    this.lifecycle.emit({ type: 'rejected', userId, context, limit, active });
    this.logger.warn(`refused a session of user ${logSafe(userId)}: ${active}/${limit} managers and cleanup freed none`);
  }

  /** The refusal, with when a slot may free judged from what the module will do by itself (see `retryAfter`). */
  private async refusal(userId: string, limit: number, active: number, cleanup: CleanupReport | null, context: string): Promise<ManagerLimitExceededError> {
    const now = Date.now();
    const assessments = await this.health.assessUser(userId, now).catch(() => []);
    const holders = new Set(assessments.filter((a) => !a.local && a.nodeId !== this.options.nodeId).map((a) => a.nodeId));
    const hint = retryAfter(assessments, this.options, now, holders.size > 0 ? await this.ledger.silentLeaseExpiries(now, holders) : undefined);
    return new ManagerLimitExceededError(userId, limit, active, hint.retryAfterMs, cleanup, context, hint.reason);
  }
}
