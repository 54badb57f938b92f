import {
  BadRequestException,
  Delete,
  Get,
  HttpCode,
  Inject,
  NotFoundException,
  Param,
  Post,
  Query,
  Req,
  Sse,
  UseGuards,
  type MessageEvent,
} from '@nestjs/common';
import { takeUntil, type Observable } from 'rxjs';
import { CLEANUP_LEVELS, isCleanupLevel } from '../cleanup/cleanup-level.js';
import type { CleanupReport } from '../cleanup/cleanup-report.js';
import { EmergencyCleanupService } from '../cleanup/emergency-cleanup.service.js';
import { MANAGER_REGISTRY } from '../config/ws-manager.constants.js';
import { HealthAssessmentService } from '../health/health-assessment.service.js';
import { ManagerLifecycleService } from '../lifecycle/manager-lifecycle.service.js';
import { LocalManagerStore } from '../managers/local-manager.store.js';
import { ManagerLedger } from '../managers/manager-ledger.service.js';
import type { ManagerRegistry } from '../registry/manager-registry.interface.js';
import { AdminAccessGuard } from './admin-access.guard.js';
import { AdminClusterReader, type AdminNodeView } from './admin-cluster.reader.js';
import { adminEventStream, type CongestionSource } from './admin-event-stream.js';
import { adminIdOrThrow, toInventoryEntry, type ManagerInventoryEntry } from './admin-inventory.js';
import { AdminOverviewService, type AdminOverview } from './admin-overview.service.js';
import { MAX_TOP_USERS, UserCountIndex, type TopUserEntry } from './user-count.index.js';

/** Outcome of `DELETE …/users/:userId/managers/:managerId`. */
export interface AdminEvictionResult {
  managerId: string;
  /** The slot is free (registry entry gone). */
  removed: boolean;
  /** Closing the sockets threw; the manager was removed all the same. */
  closeFailed: boolean;
}

/** Events a viewer that stopped reading may have waiting in Nest's queue before it is disconnected. */
const SSE_MAX_PENDING_CHARS = 1024 * 1024;

/**
 * The admin API, mounted under the module's `path` (see `WebSocketManagerAdminModule`), every
 * route behind {@link AdminAccessGuard}.
 */
@UseGuards(AdminAccessGuard)
export class AdminApiController {
  constructor(
    private readonly health: HealthAssessmentService,
    private readonly cleanup: EmergencyCleanupService,
    private readonly store: LocalManagerStore,
    private readonly ledger: ManagerLedger,
    private readonly lifecycle: ManagerLifecycleService,
    private readonly overviews: AdminOverviewService,
    private readonly users: UserCountIndex,
    private readonly cluster: AdminClusterReader,
    @Inject(MANAGER_REGISTRY) private readonly registry: ManagerRegistry,
  ) {}

  /** `GET …/overview`: the dashboard's aggregates, now. */
  @Get('overview')
  overview(): Promise<AdminOverview> {
    return this.overviews.compute();
  }

  /** `GET …/users?top=N`: the N users with the most managers (default 10, at most 100). */
  @Get('users')
  topUsers(@Query('top') top?: string): Promise<TopUserEntry[]> {
    const n = top === undefined ? 10 : Number(top);
    if (!/^\d+$/.test(top ?? '10') || n < 1 || n > MAX_TOP_USERS) throw new BadRequestException(`top must be a whole number from 1 to ${MAX_TOP_USERS}`);
    return this.users.top(n);
  }

  /** `GET …/users/:userId/managers`: every manager of the user, on any instance. */
  @Get('users/:userId/managers')
  async managers(@Param('userId') userId: string): Promise<ManagerInventoryEntry[]> {
    const assessments = await this.health.assessUser(adminIdOrThrow('userId', userId));
    return assessments.map(toInventoryEntry);
  }

  /** `DELETE …/users/:userId/managers/:managerId`: evicts one session (4001, reason `admin`); 404 if unknown. */
  @Delete('users/:userId/managers/:managerId')
  async evict(@Param('userId') userId: string, @Param('managerId') managerId: string): Promise<AdminEvictionResult> {
    adminIdOrThrow('userId', userId);
    adminIdOrThrow('managerId', managerId);
    // Looked up and removed under the user's lock (the ledger's *Locked methods expect it held).
    return this.ledger.withUser(userId, async () => {
      const local = this.store.get(managerId);
      const record = local && local.userId === userId ? local.toRecord() : await this.registry.get(userId, managerId);
      if (!record) throw new NotFoundException(`user has no manager ${managerId}`);
      const outcome = await this.ledger.removeLocked(userId, managerId, record.nodeId, 'manual', 'admin', 'manual');
      return { managerId, ...outcome };
    });
  }

  /** `POST …/users/:userId/cleanup?level=LEVEL`: runs that level (and those below); 400 on a bad level. */
  @Post('users/:userId/cleanup')
  @HttpCode(200)
  cleanupUser(@Param('userId') userId: string, @Query('level') level: unknown): Promise<CleanupReport> {
    if (!isCleanupLevel(level)) throw new BadRequestException(`level must be one of ${CLEANUP_LEVELS.join(', ')}`);
    return this.cleanup.manual(adminIdOrThrow('userId', userId), level);
  }

  /** `GET …/nodes`: the cluster's instances (`clustered: false` and none in memory mode). */
  @Get('nodes')
  async nodes(): Promise<{ clustered: boolean; nodes: AdminNodeView[] }> {
    return { clustered: this.cluster.clustered, nodes: await this.cluster.nodes() };
  }

  /**
   * `GET …/events`: Server-Sent Events `overview`, `lifecycle` and `dropped` (see
   * `adminEventStream`); ends when the application shuts down.
   */
  @Sse('events', { maxPendingDataLength: SSE_MAX_PENDING_CHARS })
  events(@Req() request: { res?: CongestionSource; raw?: { res?: CongestionSource } }): Observable<MessageEvent> {
    // Express hangs the response on the request; Fastify's raw request does.
    const sink = request.res ?? request.raw?.res;
    return adminEventStream({ lifecycle: this.lifecycle.events$, overview: this.overviews.overview$, sink }).pipe(takeUntil(this.overviews.closing$));
  }
}
