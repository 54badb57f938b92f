import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import { MANAGER_REGISTRY, SWEEP_JOB_NAME, WS_MANAGER_OPTIONS } from '../config/ws-manager.constants.js';
import type { ResolvedWsManagerOptions } from '../config/ws-manager.options.js';
import { HealthAssessmentService } from '../health/health-assessment.service.js';
import { HealthClass, type HealthAssessment } from '../health/health-class.js';
import { ManagerLifecycleService } from '../lifecycle/manager-lifecycle.service.js';
import { LocalManagerStore } from '../managers/local-manager.store.js';
import { ManagerLedger } from '../managers/manager-ledger.service.js';
import { ManagerReconciler } from '../managers/manager-reconciler.service.js';
import type { WebSocketManager } from '../managers/websocket-manager.js';
import type { ManagerRecord } from '../registry/manager-record.js';
import type { ManagerRegistry } from '../registry/manager-registry.interface.js';
import { selectCleanupCandidates } from './cleanup-candidates.js';
import { CleanupLevel } from './cleanup-level.js';
import type { CleanupLevelReport, CleanupReport } from './cleanup-report.js';
import { EmergencyCleanupService } from './emergency-cleanup.service.js';

const ORPHAN_GRACE_MS = 5_000;

/** Facts about the last completed sweep, for health endpoints. */
export interface SweepStatus {
  /** Epoch ms the last sweep finished; `null` before the first. */
  lastFinishedAt: number | null;
  /** Zombies the last sweep found. */
  lastZombies: number;
  /** The last sweep's report. */
  lastReport: CleanupReport | null;
  /** Whether a sweep is running now. */
  running: boolean;
}

/**
 * The scheduled sweep on `cleanupCron`: removes the zombie and unresponsive managers this
 * instance holds, and inactive ones without an open connection (a connected session that answers
 * pings is never evicted here: idle and inactive connected managers are candidates only for
 * emergency cleanup at the limit), then reconciles this instance's registry entries in both
 * directions: entries without a manager here are removed, managers here without an entry are
 * counted again or closed. Registered with
 * `SchedulerRegistry` at bootstrap and removed at shutdown; never overlaps itself; yields to the
 * event loop every `sweepSliceSize` managers. Requires `ScheduleModule.forRoot()` in the host app.
 */
@Injectable()
export class ScheduledSweepService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('WebSocketManager');
  private running: Promise<CleanupReport> | null = null;
  private sweepCount = 0;
  private status: SweepStatus = { lastFinishedAt: null, lastZombies: 0, lastReport: null, running: false };
  /** Name of this instance's job in `SchedulerRegistry` (`ws-manager-sweep:<nodeId>`); `null` until bootstrap. */
  jobName: string | null = null;

  constructor(
    @Inject(WS_MANAGER_OPTIONS) private readonly options: ResolvedWsManagerOptions,
    @Inject(MANAGER_REGISTRY) private readonly registry: ManagerRegistry,
    private readonly store: LocalManagerStore,
    private readonly health: HealthAssessmentService,
    private readonly cleanup: EmergencyCleanupService,
    private readonly ledger: ManagerLedger,
    private readonly reconciler: ManagerReconciler,
    private readonly lifecycle: ManagerLifecycleService,
    private readonly scheduler: SchedulerRegistry,
  ) {}

  onApplicationBootstrap(): void {
    const job = CronJob.from({
      cronTime: this.options.cleanupCron,
      onTick: () => {
        // A throwing sweep is logged and the schedule goes on.
        this.sweep().catch((error: unknown) => {
          this.logger.error(`scheduled sweep failed: ${String(error)}`);
          this.lifecycle.emit({ type: 'sweep_failed', error: String(error) });
        });
      },
      start: false,
    });
    // Per instance: two module instances in one application must not collide on the name.
    let name = `${SWEEP_JOB_NAME}:${this.options.nodeId}`;
    for (let n = 2; this.scheduler.doesExist('cron', name); n++) name = `${SWEEP_JOB_NAME}:${this.options.nodeId}#${n}`;
    this.scheduler.addCronJob(name, job);
    this.jobName = name;
    job.start();
  }

  onModuleDestroy(): void {
    if (this.jobName !== null && this.scheduler.doesExist('cron', this.jobName)) this.scheduler.deleteCronJob(this.jobName);
    this.jobName = null;
  }

  /** The last sweep's outcome. */
  getStatus(): SweepStatus {
    return { ...this.status, running: this.running !== null };
  }

  /** Runs one sweep now; a call while one runs returns that run's report. */
  sweep(): Promise<CleanupReport> {
    this.running ??= this.run().finally(() => (this.running = null));
    return this.running;
  }

  private async run(): Promise<CleanupReport> {
    const started = performance.now();
    const reports = new Map<CleanupLevel, CleanupLevelReport>();
    for (const level of [CleanupLevel.Conservative, CleanupLevel.Moderate]) {
      reports.set(level, { level, candidates: 0, removed: 0, reasons: {}, closeFailures: 0, durationMs: 0 });
    }
    let zombies = 0;
    const removeBatch = async (assessments: HealthAssessment[]) => {
      for (const seen of assessments) {
        // Judged again under the user's lock: an admission may have revived it since.
        await this.ledger.withUser(seen.userId, async () => {
          const manager = this.store.get(seen.managerId);
          if (!manager) return;
          const [candidate] = selectCleanupCandidates(CleanupLevel.Moderate, [this.health.assessManager(manager)], 0);
          if (!candidate || !sweepRemoves(candidate.assessment.health, manager.isConnected)) return;
          const level = candidate.assessment.health === HealthClass.Zombie ? CleanupLevel.Conservative : CleanupLevel.Moderate;
          if (level === CleanupLevel.Conservative) zombies++;
          const levelStarted = performance.now();
          const result = await this.cleanup.removeCandidates([candidate], level, 'scheduled');
          merge(reports.get(level)!, result, performance.now() - levelStarted);
        });
      }
    };

    const now = Date.now();
    const sweepId = ++this.sweepCount;
    let batch: HealthAssessment[] = [];
    let stale: WebSocketManager[] = [];
    let visited = 0;
    for (const manager of this.store.values()) {
      // Classify without allocating; build the full assessment only for what will be removed.
      const health = this.health.classOf(manager, now);
      if (sweepRemoves(health, manager.isConnected)) {
        batch.push(this.health.assessManager(manager, now));
      } else if (manager.lastActivityAt > manager.reportedActivityAt) {
        stale.push(manager);
      }
      if (++visited % this.options.sweepSliceSize === 0) {
        await removeBatch(batch);
        await this.reportActivity(stale);
        batch = [];
        stale = [];
        await yieldToLoop();
      }
    }
    await removeBatch(batch);
    await this.reportActivity(stale);
    zombies += await this.reconcileRegistry(reports.get(CleanupLevel.Conservative)!, sweepId);
    await this.reconcileLocal(now, sweepId);

    const levels = [...reports.values()];
    const report: CleanupReport = {
      trigger: 'scheduled',
      userId: null,
      needed: 0,
      freed: true,
      detected: levels.reduce((n, l) => n + l.candidates, 0),
      removed: levels.reduce((n, l) => n + l.removed, 0),
      probe: null,
      levels,
      durationMs: performance.now() - started,
    };
    this.status = { lastFinishedAt: Date.now(), lastZombies: zombies, lastReport: report, running: false };
    // LifecycleLoggerService writes the one log line per run from this event.
    this.lifecycle.emit({ type: 'cleanup', report });
    return report;
  }

  /**
   * Writes the activity of managers that received messages since the last report, so that
   * other instances, which judge these managers by their registry record, do not see an active
   * session as idle or inactive. Only changed managers: O(active), not O(all), per sweep.
   */
  private async reportActivity(managers: readonly WebSocketManager[]): Promise<void> {
    await Promise.all(
      managers.map(async (manager) => {
        const at = manager.lastActivityAt;
        try {
          await this.registry.update(manager.userId, manager.id, { lastActivityAt: at });
          manager.reportedActivityAt = Math.max(manager.reportedActivityAt, at);
        } catch {
          // Unreachable registry: reported on a later sweep.
        }
      }),
    );
  }

  /**
   * Registry entries of this instance without a manager here are orphans: removed. Managers
   * found are marked with `sweepId`, for {@link reconcileLocal}.
   */
  private async reconcileRegistry(report: CleanupLevelReport, sweepId: number): Promise<number> {
    let cursor: string | undefined;
    let orphans = 0;
    do {
      const page = await this.registry.scanNode(this.options.nodeId, cursor, this.options.sweepSliceSize);
      cursor = page.cursor;
      // Entries younger than the grace may belong to an admission whose manager is being created.
      const settled = Date.now() - ORPHAN_GRACE_MS;
      const found: HealthAssessment[] = [];
      const leftBehind: { record: ManagerRecord; since: number }[] = [];
      for (const record of page.records) {
        const manager = this.store.get(record.managerId);
        if (manager) {
          manager.registrySweepId = sweepId;
          continue;
        }
        const since = this.health.detachedByRestart(record);
        if (since !== null) leftBehind.push({ record, since });
        else if (record.createdAt < settled) found.push(this.health.assess(record, undefined));
      }
      // The process before this one died holding these: recorded as detached since this start,
      // every instance judges them so (and may free them when their user needs the room).
      for (const { record, since } of leftBehind) {
        const { userId, managerId } = record;
        await this.ledger.withUser(userId, async () => {
          if (this.store.get(managerId)) return; // its client came back meanwhile
          await this.ledger.call('update', (r) => r.update(userId, managerId, { detachedAt: since })).catch(() => undefined);
        });
      }
      for (const candidate of selectCleanupCandidates(CleanupLevel.Conservative, found, 0)) {
        const { userId, managerId } = candidate.assessment;
        // Under the user's lock, and only if no admission made a manager for it meanwhile.
        await this.ledger.withUser(userId, async () => {
          if (this.store.get(managerId)) return;
          const started = performance.now();
          merge(report, await this.cleanup.removeCandidates([candidate], CleanupLevel.Conservative, 'scheduled'), performance.now() - started);
          orphans++;
        });
      }
      await yieldToLoop();
    } while (cursor !== undefined);
    return orphans;
  }

  /**
   * Managers held here since before this sweep whose entry the scan did not find: the registry
   * lost them (reaped while this instance was cut off, an eviction request that never arrived).
   * Each is counted again if it fits, else closed: never served uncounted.
   */
  private async reconcileLocal(sweepStartedAt: number, sweepId: number): Promise<void> {
    let missing: WebSocketManager[] = [];
    let visited = 0;
    for (const manager of this.store.values()) {
      if (manager.registrySweepId !== sweepId && manager.createdAt < sweepStartedAt) missing.push(manager);
      if (++visited % this.options.sweepSliceSize === 0) {
        await this.reconciler.settle(missing, 'registry_lost');
        missing = [];
        await yieldToLoop();
      }
    }
    await this.reconciler.settle(missing, 'registry_lost');
  }
}

/**
 * What the sweep removes: zombies, unresponsive managers, and inactive ones without a connection.
 * A connected session that answers pings is never evicted here (I2): idle and inactive connected
 * managers are candidates only for emergency cleanup when their user is at the limit.
 */
function sweepRemoves(health: HealthClass, connected: boolean): boolean {
  return health === HealthClass.Zombie || health === HealthClass.Unresponsive || (health === HealthClass.Inactive && !connected);
}

function merge(into: CleanupLevelReport, from: CleanupLevelReport, durationMs: number): void {
  into.candidates += from.candidates;
  into.removed += from.removed;
  into.closeFailures += from.closeFailures;
  into.durationMs += durationMs;
  for (const [reason, n] of Object.entries(from.reasons)) into.reasons[reason] = (into.reasons[reason] ?? 0) + n;
}
