import { describe, expect, it } from 'vitest';
import {
  CLEANUP_LEVELS,
  CleanupLevel,
  HealthClass,
  HealthReason,
  selectCleanupCandidates,
  type HealthAssessment,
} from '../../src/index.js';
import { assessment, seededRandom, type Random } from '../support/fixtures.js';

const ALL_CLASSES = Object.values(HealthClass);
const ALWAYS: Record<CleanupLevel, HealthClass[]> = {
  [CleanupLevel.Conservative]: [HealthClass.Zombie],
  [CleanupLevel.Moderate]: [HealthClass.Zombie, HealthClass.Unresponsive, HealthClass.Inactive],
  [CleanupLevel.Aggressive]: [HealthClass.Zombie, HealthClass.Unresponsive, HealthClass.Inactive],
  [CleanupLevel.Force]: [HealthClass.Zombie, HealthClass.Unresponsive, HealthClass.Inactive],
};

const ids = (candidates: { assessment: HealthAssessment }[]) => candidates.map((c) => c.assessment.managerId);

function population(random: Random): HealthAssessment[] {
  return Array.from({ length: random.int(0, 30) }, () => {
    const health = random.pick(ALL_CLASSES);
    return assessment(health, {
      lastActivityAt: random.int(0, 50) * 1000, // duplicates on purpose: ties must not break anything
      detachedAt: health === HealthClass.Detached ? random.int(0, 50) * 1000 : null,
    });
  });
}

function nonDecreasing(values: number[]): boolean {
  return values.every((v, i) => i === 0 || values[i - 1]! <= v);
}

/**
 * What is wrong with the order of the as-needed part of an aggressive or force selection: detached
 * (longest first) before idle (least recently active first), force's extra least recently active
 * first, and nothing skipped for a later one.
 */
function orderViolations(level: CleanupLevel, pool: HealthAssessment[], chosen: HealthAssessment[]): string[] {
  const problems: string[] = [];
  const extra = chosen.filter((a) => !ALWAYS[level].includes(a.health));
  const detached = extra.filter((a) => a.health === HealthClass.Detached);
  const idle = extra.filter((a) => a.health === HealthClass.Idle);
  const forced = extra.filter((a) => a.health === HealthClass.Healthy);
  const untaken = (health: HealthClass) => pool.filter((a) => a.health === health && !chosen.includes(a));
  if (JSON.stringify(extra) !== JSON.stringify([...detached, ...idle, ...forced])) problems.push('not detached, then idle, then forced');
  if (!nonDecreasing(detached.map((a) => a.detachedAt!))) problems.push('detached not longest first');
  if (!nonDecreasing(idle.map((a) => a.lastActivityAt))) problems.push('idle not least recently active first');
  if (!nonDecreasing(forced.map((a) => a.lastActivityAt))) problems.push('forced not least recently active first');
  if (untaken(HealthClass.Detached).length > 0 && idle.length > 0) problems.push('idle taken while detached were left');
  if ((untaken(HealthClass.Detached).length > 0 || untaken(HealthClass.Idle).length > 0) && forced.length > 0) {
    problems.push('healthy forced while detached or idle were left');
  }
  const latestDetached = Math.max(...detached.map((a) => a.detachedAt!));
  if (untaken(HealthClass.Detached).some((a) => a.detachedAt! < latestDetached)) problems.push('skipped a longer-detached manager');
  const latestIdle = Math.max(...idle.map((a) => a.lastActivityAt));
  if (untaken(HealthClass.Idle).some((a) => a.lastActivityAt < latestIdle)) problems.push('skipped a less recently active idle manager');
  const latestForced = Math.max(...forced.map((a) => a.lastActivityAt));
  if (untaken(HealthClass.Healthy).some((a) => a.lastActivityAt < latestForced)) problems.push('skipped a less recently active healthy manager');
  if (level === CleanupLevel.Aggressive && forced.length > 0) problems.push('aggressive took a healthy manager');
  return problems;
}

describe('selectCleanupCandidates', () => {
  const one = Object.fromEntries(ALL_CLASSES.map((h) => [h, assessment(h)])) as Record<HealthClass, HealthAssessment>;
  const everyClass = Object.values(one);

  describe('level boundaries', () => {
    it.each([
      [CleanupLevel.Conservative, 0, [HealthClass.Zombie]],
      [CleanupLevel.Moderate, 0, [HealthClass.Zombie, HealthClass.Unresponsive, HealthClass.Inactive]],
      [CleanupLevel.Aggressive, 0, [HealthClass.Zombie, HealthClass.Unresponsive, HealthClass.Inactive]],
      [CleanupLevel.Aggressive, 4, [HealthClass.Zombie, HealthClass.Unresponsive, HealthClass.Inactive, HealthClass.Detached]],
      [CleanupLevel.Aggressive, 6, [HealthClass.Zombie, HealthClass.Unresponsive, HealthClass.Inactive, HealthClass.Detached, HealthClass.Idle]],
      [CleanupLevel.Aggressive, 99, [HealthClass.Zombie, HealthClass.Unresponsive, HealthClass.Inactive, HealthClass.Detached, HealthClass.Idle]],
      [CleanupLevel.Force, 5, [HealthClass.Zombie, HealthClass.Unresponsive, HealthClass.Inactive, HealthClass.Detached, HealthClass.Idle]],
      [CleanupLevel.Force, 6, ALL_CLASSES],
    ])('%s with needed=%i selects %j', (level, needed, classes) => {
      const chosen = selectCleanupCandidates(level, everyClass, needed);
      expect(chosen.map((c) => c.assessment.health).sort()).toEqual([...classes].sort());
    });

    it('records the first health reason, Forced for a healthy manager', () => {
      const chosen = selectCleanupCandidates(CleanupLevel.Force, everyClass, 6);
      const reasonOf = Object.fromEntries(chosen.map((c) => [c.assessment.health, c.reason]));
      expect(reasonOf).toEqual({
        [HealthClass.Zombie]: HealthReason.SocketsClosed,
        [HealthClass.Unresponsive]: HealthReason.PongTimeout,
        [HealthClass.Inactive]: HealthReason.InactiveThreshold,
        [HealthClass.Detached]: HealthReason.Detached,
        [HealthClass.Idle]: HealthReason.IdleThreshold,
        [HealthClass.Healthy]: HealthReason.Forced,
      });
    });

    it('aggressive takes the longest detached first, then the least recently active idle', () => {
      const d1 = assessment(HealthClass.Detached, { detachedAt: 300 });
      const d2 = assessment(HealthClass.Detached, { detachedAt: 100 });
      const i1 = assessment(HealthClass.Idle, { lastActivityAt: 50 });
      const i2 = assessment(HealthClass.Idle, { lastActivityAt: 10 });
      const pool = [d1, i1, d2, i2];
      expect(ids(selectCleanupCandidates(CleanupLevel.Aggressive, pool, 1))).toEqual([d2.managerId]);
      expect(ids(selectCleanupCandidates(CleanupLevel.Aggressive, pool, 3))).toEqual([d2.managerId, d1.managerId, i2.managerId]);
    });

    it('force takes the least recently active whatever the health', () => {
      const old = assessment(HealthClass.Healthy, { lastActivityAt: 1 });
      const recent = assessment(HealthClass.Healthy, { lastActivityAt: 9 });
      expect(ids(selectCleanupCandidates(CleanupLevel.Force, [recent, old], 1))).toEqual([old.managerId]);
    });

    it('never selects anything from an empty population', () => {
      for (const level of CLEANUP_LEVELS) expect(selectCleanupCandidates(level, [], 5)).toEqual([]);
    });

    it('does not mutate its input', () => {
      const pool = [assessment(HealthClass.Idle, { lastActivityAt: 5 }), assessment(HealthClass.Idle, { lastActivityAt: 1 })];
      const copy = structuredClone(pool);
      selectCleanupCandidates(CleanupLevel.Force, pool, 2);
      expect(pool).toEqual(copy);
    });
  });

  describe('properties over 500 random populations', () => {
    const RUNS = 500;
    function forAll(check: (pool: HealthAssessment[], needed: number, seed: number) => void): void {
      for (let seed = 1; seed <= RUNS; seed++) {
        const random = seededRandom(seed);
        const pool = population(random);
        const needed = random.int(0, 12);
        try {
          check(pool, needed, seed);
        } catch (error) {
          throw new Error(`seed ${seed} (needed=${needed}, ${pool.length} managers): ${(error as Error).message}`, { cause: error });
        }
      }
    }

    it('no level below force ever selects a healthy manager', () => {
      forAll((pool, needed) => {
        for (const level of [CleanupLevel.Conservative, CleanupLevel.Moderate, CleanupLevel.Aggressive]) {
          expect(selectCleanupCandidates(level, pool, needed).filter((c) => c.assessment.health === HealthClass.Healthy)).toEqual([]);
        }
      });
    });

    it('conservative selects exactly the zombies and moderate exactly zombie + unresponsive + inactive', () => {
      forAll((pool, needed) => {
        for (const level of [CleanupLevel.Conservative, CleanupLevel.Moderate]) {
          const expected = pool.filter((a) => ALWAYS[level].includes(a.health)).map((a) => a.managerId);
          expect(ids(selectCleanupCandidates(level, pool, needed)).sort()).toEqual(expected.sort());
        }
      });
    });

    it('aggressive and force select no more than needed beyond the always-removed classes, in order', () => {
      forAll((pool, needed) => {
        for (const level of [CleanupLevel.Aggressive, CleanupLevel.Force]) {
          const always = pool.filter((a) => ALWAYS[level].includes(a.health));
          const eligible = level === CleanupLevel.Force ? pool.length : always.length + pool.filter((a) => a.health === HealthClass.Detached || a.health === HealthClass.Idle).length;
          const chosen = selectCleanupCandidates(level, pool, needed);
          expect(chosen.length).toBe(Math.min(Math.max(needed, always.length), eligible));
          expect(chosen.length).toBeLessThanOrEqual(Math.max(needed, always.length));
          expect(new Set(ids(chosen)).size).toBe(chosen.length);

          expect(orderViolations(level, pool, chosen.map((c) => c.assessment))).toEqual([]);
        }
      });
    });

    it('levels are monotone: each selects a superset of the one before', () => {
      forAll((pool, needed) => {
        let previous = new Set<string>();
        for (const level of CLEANUP_LEVELS) {
          const current = new Set(ids(selectCleanupCandidates(level, pool, needed)));
          for (const id of previous) expect(current.has(id)).toBe(true);
          previous = current;
        }
      });
    });

    it('is deterministic', () => {
      forAll((pool, needed) => {
        for (const level of CLEANUP_LEVELS) {
          expect(ids(selectCleanupCandidates(level, pool, needed))).toEqual(ids(selectCleanupCandidates(level, [...pool], needed)));
        }
      });
    });
  });
});
