import type { ResolvedWsManagerOptions } from '../config/ws-manager.options.js';
import { HealthClass, type HealthAssessment } from '../health/health-class.js';
import { FIRST_LEVEL_NAMING, levelsUpTo } from './cleanup-level.js';

/** A retry sooner than this cannot find anything a cleanup did not just see. */
export const MIN_RETRY_AFTER_MS = 1_000;

/**
 * Why `retryAfterMs` has the value it has (sent beside it in the `MANAGER_LIMIT_REACHED` frame):
 * - `cleanup_pending`: a session the allowed cleanup may remove is still counted (its removal
 *   failed or it turned removable just now): a retry soon can succeed;
 * - `resume_window_expiry`: a detached session's resume window ends then and it becomes a zombie;
 * - `heartbeat_termination`: an unresponsive connection is cut by the heartbeat, and its session
 *   then expires like a detached one;
 * - `lease_expiry`: the instance holding a session went silent and its lease lapses then;
 * - `sessions_in_use`: every session is connected and answers pings, and none of them will free
 *   a slot by itself (`retryAfterMs` is `null`): close one of them, or wait for one to go idle.
 */
export type RetryAfterReason = 'cleanup_pending' | 'resume_window_expiry' | 'heartbeat_termination' | 'lease_expiry' | 'sessions_in_use';

/** The hint given with a refusal. */
export interface RetryAfter {
  /** Milliseconds after which a retry can find a free slot; `null`: nothing will free one by itself. */
  retryAfterMs: number | null;
  /** What frees that slot, or why nothing will. */
  reason: RetryAfterReason;
}

type Options = Pick<ResolvedWsManagerOptions, 'maxCleanupLevel' | 'resumeWindowMs' | 'heartbeatTimeoutMs'>;

/**
 * When a refused user can expect a slot, derived only from what the module will do by itself:
 * the earliest of a detached session's resume-window expiry, an unresponsive connection's
 * heartbeat termination (plus the resume window its session then waits out), a silent
 * instance's lease lapse (only when the caller knows it: `silentNodeLeaseExpiry`), or "now" for
 * a session the allowed cleanup could remove but did not. Connected sessions that answer pings
 * never count, whatever their activity: a session in use frees nothing by itself, so when every
 * session is like that the answer is `null` with reason `sessions_in_use`. Pure.
 *
 * @param assessments the user's sessions, as judged after the cleanup that failed
 * @param silentNodeLeaseExpiry epoch ms at which the lease of an instance believed dead lapses;
 *   omit instances that are alive or unknown (a live instance's lease never lapses)
 */
export function retryAfter(
  assessments: readonly HealthAssessment[],
  options: Options,
  now: number,
  silentNodeLeaseExpiry: ReadonlyMap<string, number> = new Map(),
): RetryAfter {
  const allowed = new Set(levelsUpTo(options.maxCleanupLevel));
  let best: { at: number; reason: RetryAfterReason } | null = null;
  const consider = (at: number, reason: RetryAfterReason) => {
    if (best === null || at < best.at) best = { at, reason };
  };
  for (const a of assessments) {
    if (allowed.has(FIRST_LEVEL_NAMING[a.health])) {
      consider(now, 'cleanup_pending');
      continue;
    }
    const leaseExpiry = a.local ? undefined : silentNodeLeaseExpiry.get(a.nodeId);
    if (leaseExpiry !== undefined) consider(leaseExpiry, 'lease_expiry');
    // Past its resume window a detached session is a zombie, which every level removes.
    if (a.detachedAt !== null) consider(a.detachedAt + options.resumeWindowMs, 'resume_window_expiry');
    else if (a.health === HealthClass.Unresponsive) {
      consider(now + options.heartbeatTimeoutMs + options.resumeWindowMs, 'heartbeat_termination');
    }
  }
  if (best === null) return { retryAfterMs: null, reason: 'sessions_in_use' };
  const { at, reason } = best as { at: number; reason: RetryAfterReason };
  return { retryAfterMs: Math.max(MIN_RETRY_AFTER_MS, Math.ceil(at - now)), reason };
}
