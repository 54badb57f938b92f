import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import type { CleanupReport } from '../cleanup/cleanup-report.js';
import { WS_MANAGER_OPTIONS } from '../config/ws-manager.constants.js';
import type { ResolvedWsManagerOptions } from '../config/ws-manager.options.js';
import { logSafe } from './log-safe.js';
import { ManagerLifecycleService } from './manager-lifecycle.service.js';

/** Failure timestamps kept per user at most; older ones are dropped first. */
const MAX_FAILURES_KEPT = 1024;

interface UserFailures {
  /** Epoch ms of each failure inside the window, oldest first. */
  at: number[];
  /** Epoch ms the alarm last fired for this user, or `null`. */
  alarmedAt: number | null;
}

/**
 * Whether a cleanup report is an emergency-cleanup failure: an emergency run (admission at the
 * limit, or `EmergencyCleanupInterceptor`) that ended with the user still at the limit.
 */
export function isEmergencyCleanupFailure(report: CleanupReport): boolean {
  return report.trigger === 'emergency' && !report.freed && report.userId !== null;
}

/**
 * The alarm that cannot be missed. Watches cleanup reports; for each emergency-cleanup failure
 * (see {@link isEmergencyCleanupFailure}) it emits the lifecycle event `emergency_cleanup_failed`
 * (it is the only emitter; `ws_manager_emergency_cleanup_failures_total` counts those events).
 * When one user reaches `alarmThreshold` failures within `alarmWindowMs` it logs ONE error line
 * and emits `{type: 'alarm', userId, failures, windowMs}`, then stays silent for that user until
 * `alarmWindowMs` has passed since it fired: once per window, not once per failure. Users whose
 * failures all left the window are forgotten, so memory follows the users failing now.
 */
@Injectable()
export class CleanupAlarmService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('WebSocketManager');
  private readonly users = new Map<string, UserFailures>();
  private subscription?: Subscription;
  private lastPruneAt = 0;

  constructor(
    @Inject(WS_MANAGER_OPTIONS) private readonly options: ResolvedWsManagerOptions,
    private readonly lifecycle: ManagerLifecycleService,
  ) {}

  /** Users with a failure inside the window or an alarm still in effect. */
  get trackedUsers(): number {
    return this.users.size;
  }

  onModuleInit(): void {
    this.subscription ??= this.lifecycle.listen((event) => {
      if (event.type !== 'cleanup') return;
      try {
        if (isEmergencyCleanupFailure(event.report)) this.recordFailure(event.report.userId!, event.at);
      } catch (error) {
        this.logger.error(`cleanup alarm: could not record a failure: ${logSafe(error)}`);
      }
    });
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    this.users.clear();
  }

  /**
   * Records one emergency-cleanup failure of `userId` at `now`; returns whether it raised the
   * alarm. Called for every failure seen on the lifecycle stream; subclasses may override it.
   */
  protected recordFailure(userId: string, now = Date.now()): boolean {
    const windowMs = this.options.alarmWindowMs;
    this.pruneAll(now);
    let user = this.users.get(userId);
    if (!user) this.users.set(userId, (user = { at: [], alarmedAt: null }));
    dropOlderThan(user.at, now - windowMs);
    user.at.push(now);
    if (user.at.length > MAX_FAILURES_KEPT) user.at.shift();
    this.lifecycle.emit({ type: 'emergency_cleanup_failed', userId });

    const failures = user.at.length;
    const silenced = user.alarmedAt !== null && now - user.alarmedAt < windowMs;
    if (failures < this.options.alarmThreshold || silenced) return false;
    user.alarmedAt = now;
    this.logger.error(
      `ALARM: emergency cleanup failed ${failures} times in ${windowMs} ms for user ${logSafe(userId)} ` +
        `(threshold ${this.options.alarmThreshold}); their new sessions are being refused`,
    );
    this.lifecycle.emit({ type: 'alarm', userId, failures, windowMs });
    return true;
  }

  /** Forgets users whose failures and alarm are all older than the window; at most once a window. */
  private pruneAll(now: number): void {
    const windowMs = this.options.alarmWindowMs;
    if (now - this.lastPruneAt < Math.min(windowMs, 60_000)) return;
    this.lastPruneAt = now;
    for (const [userId, user] of this.users) {
      dropOlderThan(user.at, now - windowMs);
      const alarmActive = user.alarmedAt !== null && now - user.alarmedAt < windowMs;
      if (user.at.length === 0 && !alarmActive) this.users.delete(userId);
    }
  }
}

function dropOlderThan(times: number[], cutoff: number): void {
  let stale = 0;
  while (stale < times.length && times[stale]! <= cutoff) stale++;
  if (stale > 0) times.splice(0, stale);
}
