import { Inject, Injectable } from '@nestjs/common';
import { WS_MANAGER_OPTIONS } from '../config/ws-manager.constants.js';
import type { ResolvedWsManagerOptions } from '../config/ws-manager.options.js';
import { HealthAssessmentService } from '../health/health-assessment.service.js';
import { HealthClass } from '../health/health-class.js';
import type { CleanupTrigger } from '../lifecycle/manager-lifecycle.event.js';
import { ManagerLifecycleService } from '../lifecycle/manager-lifecycle.service.js';
import { LocalManagerStore } from '../managers/local-manager.store.js';
import { ManagerLedger, type Removal } from '../managers/manager-ledger.service.js';
import { selectCleanupCandidates, type CleanupCandidate } from './cleanup-candidates.js';
import { CleanupLevel, levelsUpTo } from './cleanup-level.js';
import type { CleanupLevelReport, CleanupReport } from './cleanup-report.js';
import { probeConnections } from './liveness-probe.js';

/** How one per-user cleanup run is driven. */
export interface UserCleanupPlan {
  trigger: CleanupTrigger;
  /** Highest level to reach. */
  maxLevel: CleanupLevel;
  /** Stop at the first level after which the user holds fewer than the limit. */
  stopWhenFreed: boolean;
  /** Run the admission-time liveness probe first. */
  probe: boolean;
  /** The user's limit; unset: the one the user was last admitted with here, else `maxManagersPerUser`. */
  limit?: number;
}

/**
 * The one cleanup implementation, used by admissions, the interceptor, the scheduled sweep and the
 * admin API. It removes what it classifies: a manager whose close throws is still removed from the
 * registry, and one failure never stops the others.
 */
@Injectable()
export class EmergencyCleanupService {
  constructor(
    @Inject(WS_MANAGER_OPTIONS) private readonly options: ResolvedWsManagerOptions,
    private readonly ledger: ManagerLedger,
    private readonly store: LocalManagerStore,
    private readonly health: HealthAssessmentService,
    private readonly lifecycle: ManagerLifecycleService,
  ) {}

  /**
   * Emergency cleanup for a user at the limit: the liveness probe, then conservative → moderate →
   * aggressive → force, stopping at the first level that frees a slot and never above
   * `maxCleanupLevel`.
   */
  emergency(userId: string): Promise<CleanupReport> {
    return this.ledger.withUser(userId, () => this.runForUserLocked(userId, this.emergencyPlan()));
  }

  /** Runs `level` (and every level below it) for one user, making room for one new session. */
  manual(userId: string, level: CleanupLevel): Promise<CleanupReport> {
    return this.ledger.withUser(userId, () =>
      this.runForUserLocked(userId, { trigger: 'manual', maxLevel: level, stopWhenFreed: false, probe: false }),
    );
  }

  /** The plan emergency cleanup follows under the configured options. */
  emergencyPlan(): UserCleanupPlan {
    return { trigger: 'emergency', maxLevel: this.options.maxCleanupLevel, stopWhenFreed: true, probe: true };
  }

  /** Per-user cleanup; the caller must hold the user's lock (`ManagerLedger.withUser`). */
  async runForUserLocked(userId: string, plan: UserCleanupPlan): Promise<CleanupReport> {
    const started = performance.now();
    const limit = plan.limit ?? this.ledger.limitOf(userId);
    const probe = plan.probe
      ? await probeConnections(
          this.store.listByUser(userId).flatMap((m) => [...m.connections]),
          this.options.probeTimeoutMs,
        )
      : null;
    const report: CleanupReport = { trigger: plan.trigger, userId, needed: 0, freed: false, detected: 0, removed: 0, probe, levels: [], durationMs: 0 };
    let remaining: number | undefined; // the user's managers after the last level run
    for (const level of levelsUpTo(plan.maxLevel)) {
      const levelStarted = performance.now();
      const assessments = await this.health.assessUser(userId);
      const needed = Math.max(0, assessments.length - limit + 1);
      if (remaining === undefined) report.needed = needed;
      remaining = assessments.length;
      if (plan.stopWhenFreed && needed === 0) break;
      const candidates = selectCleanupCandidates(level, assessments, needed);
      const levelReport = await this.removeCandidates(candidates, level, plan.trigger);
      levelReport.durationMs = performance.now() - levelStarted;
      report.levels.push(levelReport);
      report.detected += levelReport.candidates;
      report.removed += levelReport.removed;
      remaining -= levelReport.removed;
      if (plan.stopWhenFreed && remaining < limit) break;
    }
    // Derived, not re-read: the caller's admission asks the registry again anyway.
    report.freed = (remaining ?? 0) < limit;
    report.durationMs = performance.now() - started;
    this.lifecycle.emit({ type: 'cleanup', report });
    return report;
  }

  /** Removes each candidate; never throws, counts what was removed per reason. */
  async removeCandidates(candidates: readonly CleanupCandidate[], level: CleanupLevel, trigger: CleanupTrigger): Promise<CleanupLevelReport> {
    const report: CleanupLevelReport = { level, candidates: candidates.length, removed: 0, reasons: {}, closeFailures: 0, durationMs: 0 };
    for (const { assessment, reason } of candidates) {
      if (assessment.health === HealthClass.Zombie) {
        this.lifecycle.emit({ type: 'zombie_detected', userId: assessment.userId, managerId: assessment.managerId, reason });
      }
      const outcome = await this.ledger.removeLocked(assessment.userId, assessment.managerId, assessment.nodeId, level, reason, trigger);
      if (outcome.closeFailed) report.closeFailures++;
      if (outcome.removed) {
        report.removed++;
        report.reasons[reason] = (report.reasons[reason] ?? 0) + 1;
      }
    }
    return report;
  }

  /**
   * Removes one manager wherever it is, under its user's lock: closes its sockets (here, or by
   * asking its owner) and removes its registry entry whatever the close did. `removed` is true
   * when the slot is free afterwards.
   */
  removeOne(userId: string, managerId: string, nodeId: string, level: string, reason: string, trigger: CleanupTrigger): Promise<Removal> {
    return this.ledger.withUser(userId, () => this.ledger.removeLocked(userId, managerId, nodeId, level, reason, trigger));
  }
}
