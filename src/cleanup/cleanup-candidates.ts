import { HealthClass, HealthReason, type HealthAssessment } from '../health/health-class.js';
import { CleanupLevel, FIRST_LEVEL_NAMING, levelAtLeast as atLeast } from './cleanup-level.js';

/** A manager chosen by a level, and the reason recorded for it. */
export interface CleanupCandidate {
  assessment: HealthAssessment;
  reason: HealthReason;
}

/** Levels that remove every manager of the classes they name (the later ones: only as many as needed). */
const REMOVES_ALL = new Set([CleanupLevel.Conservative, CleanupLevel.Moderate]);

const firstReason = (a: HealthAssessment, fallback: HealthReason) => a.reasons[0] ?? fallback;

/**
 * Chooses what `level` removes from one user's assessments. Conservative and moderate take every
 * manager of their classes; aggressive then takes detached (longest detached first) and idle
 * (least recently active first), and force any manager (least recently active first), in both
 * cases only until `needed` slots are freed in total. Pure: the same input gives the same output.
 */
export function selectCleanupCandidates(
  level: CleanupLevel,
  assessments: readonly HealthAssessment[],
  needed: number,
): CleanupCandidate[] {
  const chosen: CleanupCandidate[] = [];
  const rest: HealthAssessment[] = [];
  for (const a of assessments) {
    const minLevel = FIRST_LEVEL_NAMING[a.health];
    if (REMOVES_ALL.has(minLevel) && atLeast(level, minLevel)) chosen.push({ assessment: a, reason: firstReason(a, HealthReason.SocketsClosed) });
    else rest.push(a);
  }
  let missing = needed - chosen.length;
  const take = (pool: HealthAssessment[], reason: (a: HealthAssessment) => HealthReason) => {
    for (const a of pool) {
      if (missing <= 0) return;
      chosen.push({ assessment: a, reason: reason(a) });
      rest.splice(rest.indexOf(a), 1);
      missing--;
    }
  };
  if (atLeast(level, CleanupLevel.Aggressive)) {
    take(
      rest.filter((a) => a.health === HealthClass.Detached).sort((x, y) => (x.detachedAt ?? 0) - (y.detachedAt ?? 0)),
      () => HealthReason.Detached,
    );
    take(
      rest.filter((a) => a.health === HealthClass.Idle).sort((x, y) => x.lastActivityAt - y.lastActivityAt),
      () => HealthReason.IdleThreshold,
    );
  }
  if (level === CleanupLevel.Force) {
    take([...rest].sort((x, y) => x.lastActivityAt - y.lastActivityAt), (a) => a.reasons[0] ?? HealthReason.Forced);
  }
  return chosen;
}
