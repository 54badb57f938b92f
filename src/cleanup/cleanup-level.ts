import { HealthClass } from '../health/health-class.js';

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

/**
 * The one home of which classes a level removes: the first level that names each health class
 * (every later level names it too). Conservative and moderate remove every manager of their
 * classes; aggressive and force only as many as needed to make room.
 */
export const FIRST_LEVEL_NAMING: Readonly<Record<HealthClass, CleanupLevel>> = {
  [HealthClass.Zombie]: CleanupLevel.Conservative,
  [HealthClass.Unresponsive]: CleanupLevel.Moderate,
  [HealthClass.Inactive]: CleanupLevel.Moderate,
  [HealthClass.Detached]: CleanupLevel.Aggressive,
  [HealthClass.Idle]: CleanupLevel.Aggressive,
  [HealthClass.Healthy]: CleanupLevel.Force,
};

/** Whether `level` is `min` or a later one. */
export function levelAtLeast(level: CleanupLevel, min: CleanupLevel): boolean {
  return CLEANUP_LEVELS.indexOf(level) >= CLEANUP_LEVELS.indexOf(min);
}
