import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import type { CleanupReport } from '../cleanup/cleanup-report.js';
import { logSafe } from './log-safe.js';
import { ManagerLifecycleService } from './manager-lifecycle.service.js';

/**
 * One log line per cleanup run, with its report in `key=value` form: trigger, user, each level
 * as `level:removed/candidates`, the reasons, detected/removed, freed, the probe and the duration.
 * Evictions and refusals are logged where they happen (cleanup service, factory); no line ever
 * carries a token. A scheduled sweep that found nothing logs at debug level, to keep a 30-second
 * cron from flooding the log; an emergency run that freed nothing logs a warning.
 */
@Injectable()
export class LifecycleLoggerService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('WebSocketManager');
  private subscription?: Subscription;

  constructor(private readonly lifecycle: ManagerLifecycleService) {}

  onModuleInit(): void {
    this.subscription ??= this.lifecycle.listen((event) => {
      if (event.type !== 'cleanup') return;
      try {
        this.logCleanup(event.report);
      } catch (error) {
        this.logger.error(`could not log a cleanup report: ${logSafe(error)}`);
      }
    });
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }

  /** Writes the line for one cleanup report. */
  protected logCleanup(report: CleanupReport): void {
    const line = formatCleanupReport(report);
    if (report.trigger === 'emergency' && !report.freed) this.logger.warn(line);
    else if (report.trigger === 'scheduled' && report.detected === 0) this.logger.debug(line);
    else this.logger.log(line);
  }
}

/**
 * The one-line summary of a cleanup report, e.g.
 * `cleanup trigger=emergency user=alice needed=1 freed=true detected=5 removed=5
 * levels=conservative:5/5 reasons=sockets_closed:5 probe=12/0 duration_ms=14.2`.
 */
export function formatCleanupReport(report: CleanupReport): string {
  const levels = report.levels.map((l) => `${l.level}:${l.removed}/${l.candidates}`).join(',') || 'none';
  const reasons = new Map<string, number>();
  for (const level of report.levels) {
    for (const [reason, n] of Object.entries(level.reasons)) reasons.set(reason, (reasons.get(reason) ?? 0) + n);
  }
  const closeFailures = report.levels.reduce((n, l) => n + l.closeFailures, 0);
  const parts = [
    'cleanup',
    `trigger=${report.trigger}`,
    `user=${report.userId === null ? '*' : logSafe(report.userId)}`,
    `needed=${report.needed}`,
    `freed=${report.freed}`,
    `detected=${report.detected}`,
    `removed=${report.removed}`,
    `levels=${levels}`,
    `reasons=${[...reasons].map(([r, n]) => `${r}:${n}`).join(',') || 'none'}`,
  ];
  if (closeFailures > 0) parts.push(`close_failures=${closeFailures}`);
  if (report.probe) parts.push(`probe=${report.probe.probed}/${report.probe.unresponsive}`);
  parts.push(`duration_ms=${report.durationMs.toFixed(1)}`);
  return parts.join(' ');
}
