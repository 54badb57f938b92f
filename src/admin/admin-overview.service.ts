import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { exhaustMap, filter, from, share, Subject, timer, type Observable, type Subscription } from 'rxjs';
import type { CleanupReport } from '../cleanup/cleanup-report.js';
import { ScheduledSweepService } from '../cleanup/scheduled-sweep.service.js';
import { MANAGER_REGISTRY, WS_MANAGER_OPTIONS } from '../config/ws-manager.constants.js';
import type { ResolvedWsManagerOptions } from '../config/ws-manager.options.js';
import { HealthAssessmentService } from '../health/health-assessment.service.js';
import { HealthClass } from '../health/health-class.js';
import { ManagerLifecycleService } from '../lifecycle/manager-lifecycle.service.js';
import { LocalManagerStore } from '../managers/local-manager.store.js';
import { censusLocalManagers } from '../metrics/local-manager-counts.js';
import type { ManagerRegistry } from '../registry/manager-registry.interface.js';
import { AdminClusterReader, type AdminNodeView } from './admin-cluster.reader.js';
import { WS_ADMIN_OPTIONS } from './admin.constants.js';
import type { ResolvedAdminOptions } from './admin.options.js';
import { UserCountIndex, type TopUserEntry } from './user-count.index.js';

/** A cleanup run as the dashboard lists it. */
export interface AdminCleanupRun extends CleanupReport {
  /** Epoch ms the run finished. */
  at: number;
}

/** An alarm (emergency cleanup failing repeatedly for one user). */
export interface AdminAlarm {
  userId: string;
  failures: number;
  windowMs: number;
  at: number;
}

/** The aggregates the dashboard shows, pushed a few times a second at most. */
export interface AdminOverview {
  at: number;
  nodeId: string;
  registry: string;
  limit: number;
  maxCleanupLevel: string;
  /** Managers held by this instance. */
  managers: number;
  /** Open connections held by this instance. */
  connections: number;
  /** This instance's managers per health class (every class present, 0 when none). */
  byHealth: Record<HealthClass, number>;
  /** The scheduled sweep's last outcome. */
  sweep: { lastFinishedAt: number | null; lastZombies: number; running: boolean };
  /** Users with the most managers (near the limit first). */
  topUsers: TopUserEntry[];
  /** The last cleanup runs, newest first. */
  cleanups: AdminCleanupRun[];
  /** The last alarms, newest first. */
  alarms: AdminAlarm[];
  /** Cluster instances (cluster mode), else `[]`. */
  nodes: AdminNodeView[];
  /** How long computing this overview took, in ms. */
  computeMs: number;
}

/** Users near the limit in the overview. */
const OVERVIEW_TOP = 10;

/**
 * The dashboard's aggregates: totals per health class from this instance's sockets (classified
 * without allocation, in slices so the event loop is never held long), the top users, the last
 * cleanup runs and alarms (kept from the lifecycle stream, a bounded ring each) and the cluster's
 * nodes. {@link overview$} computes them on a timer only while someone watches.
 */
@Injectable()
export class AdminOverviewService implements OnModuleInit, OnModuleDestroy {
  private readonly cleanups: AdminCleanupRun[] = [];
  private readonly alarms: AdminAlarm[] = [];
  private subscription?: Subscription;
  private readonly closing = new Subject<void>();

  /**
   * Emits once when the application shuts down, before the HTTP server closes: event streams end
   * on it, so that an open dashboard never holds a graceful shutdown.
   */
  readonly closing$: Observable<void> = this.closing.asObservable();

  /** The overview every `pushIntervalMs`, shared by every viewer; stops when the last one leaves. */
  readonly overview$: Observable<AdminOverview>;

  constructor(
    @Inject(WS_ADMIN_OPTIONS) private readonly adminOptions: ResolvedAdminOptions,
    @Inject(WS_MANAGER_OPTIONS) private readonly options: ResolvedWsManagerOptions,
    @Inject(MANAGER_REGISTRY) private readonly registry: ManagerRegistry,
    private readonly store: LocalManagerStore,
    private readonly health: HealthAssessmentService,
    private readonly lifecycle: ManagerLifecycleService,
    private readonly sweep: ScheduledSweepService,
    private readonly users: UserCountIndex,
    private readonly cluster: AdminClusterReader,
  ) {
    this.overview$ = timer(0, adminOptions.pushIntervalMs).pipe(
      // A computation slower than the period skips ticks instead of queueing them.
      // A failed computation (Redis down for the nodes view) skips one push, not the stream.
      exhaustMap(() => from(this.compute().catch(() => null))),
      filter((overview): overview is AdminOverview => overview !== null),
      share(),
    );
  }

  onModuleInit(): void {
    const keep = this.adminOptions.historySize;
    this.subscription = this.lifecycle.listen((event) => {
      if (event.type === 'cleanup') pushBounded(this.cleanups, { ...event.report, at: event.at }, keep);
      else if (event.type === 'alarm') pushBounded(this.alarms, { userId: event.userId, failures: event.failures, windowMs: event.windowMs, at: event.at }, keep);
    });
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
    this.closing.next();
    this.closing.complete();
  }

  /** Computes the overview now. */
  async compute(): Promise<AdminOverview> {
    const started = performance.now();
    const now = Date.now();
    const census = await censusLocalManagers(this.store, (manager, at) => this.health.classOf(manager, at));
    const { byHealth, connections } = census;
    const managers = census.connected + census.detached;
    // Redis unreachable: the local totals are still worth showing; the cluster parts come back empty.
    const [topUsers, nodes] = await Promise.all([this.users.top(OVERVIEW_TOP).catch(() => []), this.cluster.nodes().catch(() => [])]);
    const sweep = this.sweep.getStatus();
    return {
      at: now,
      nodeId: this.options.nodeId,
      registry: this.registry.kind,
      limit: this.options.maxManagersPerUser,
      maxCleanupLevel: this.options.maxCleanupLevel,
      managers,
      connections,
      byHealth,
      sweep: { lastFinishedAt: sweep.lastFinishedAt, lastZombies: sweep.lastZombies, running: sweep.running },
      topUsers,
      cleanups: [...this.cleanups].reverse(),
      alarms: [...this.alarms].reverse(),
      nodes,
      computeMs: performance.now() - started,
    };
  }
}

function pushBounded<T>(list: T[], item: T, max: number): void {
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
}
