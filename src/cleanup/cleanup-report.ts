import type { CleanupTrigger } from '../lifecycle/manager-lifecycle.event.js';
import type { CleanupLevel } from './cleanup-level.js';

/** What one level of one cleanup run found and removed. */
export interface CleanupLevelReport {
  level: CleanupLevel;
  /** Managers this level chose for removal. */
  candidates: number;
  /** Managers actually removed (registry entry gone). */
  removed: number;
  /** Removed managers per health reason code. */
  reasons: Record<string, number>;
  /** Managers whose socket close threw; they were removed all the same. */
  closeFailures: number;
  durationMs: number;
}

/** The admission-time liveness probe's outcome. */
export interface ProbeReport {
  /** Connections pinged (those not heard from within `probeTimeoutMs`). */
  probed: number;
  /** Of those, how many stayed silent and are now unresponsive. */
  unresponsive: number;
  /** How long the probe waited. */
  waitedMs: number;
}

/** Outcome of one cleanup run; also sent to the client as `session.cleanup`. */
export interface CleanupReport {
  trigger: CleanupTrigger;
  /** The user cleaned up; `null` for a sweep over all users. */
  userId: string | null;
  /** Slots that had to be freed (emergency and manual), `0` for the sweep. */
  needed: number;
  /** Whether enough slots were freed. */
  freed: boolean;
  /** Managers chosen for removal, all levels together. */
  detected: number;
  /** Managers removed, all levels together. */
  removed: number;
  probe: ProbeReport | null;
  levels: CleanupLevelReport[];
  durationMs: number;
}
