/**
 * Cleanup levels, mildest first. Each level includes every level before it.
 *
 * - `conservative`: zombies, and registry/socket reconciliation.
 * - `moderate`: + unresponsive and inactive managers.
 * - `aggressive`: + detached (longest detached first) and idle (least recently active first),
 *   only as many as needed to make room.
 * - `force`: + least recently active managers whatever their health, only as many as needed.
 */
export enum CleanupLevel {
  Conservative = 'conservative',
  Moderate = 'moderate',
  Aggressive = 'aggressive',
  Force = 'force',
}

/** Every level in escalation order. */
export const CLEANUP_LEVELS: readonly CleanupLevel[] = [
  CleanupLevel.Conservative,
  CleanupLevel.Moderate,
  CleanupLevel.Aggressive,
  CleanupLevel.Force,
];

/** The levels from `conservative` up to and including `max`. */
export function levelsUpTo(max: CleanupLevel): CleanupLevel[] {
  return CLEANUP_LEVELS.slice(0, CLEANUP_LEVELS.indexOf(max) + 1);
}

/** Whether `value` names a cleanup level. */
export function isCleanupLevel(value: unknown): value is CleanupLevel {
  return typeof value === 'string' && (CLEANUP_LEVELS as readonly string[]).includes(value);
}
