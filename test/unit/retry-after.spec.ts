import { describe, expect, it } from 'vitest';
import { CleanupLevel } from '../../src/cleanup/cleanup-level.js';
import { MIN_RETRY_AFTER_MS, retryAfter } from '../../src/cleanup/retry-after.js';
import { HealthClass, type HealthAssessment } from '../../src/health/health-class.js';

const NOW = 1_000_000_000;
const options = { maxCleanupLevel: CleanupLevel.Aggressive, resumeWindowMs: 120_000, heartbeatTimeoutMs: 10_000 };

let seq = 0;
function session(health: HealthClass, overrides: Partial<HealthAssessment> = {}): HealthAssessment {
  const connected = health !== HealthClass.Detached;
  return {
    managerId: `m${seq++}`,
    userId: 'u',
    context: `c${seq}`,
    nodeId: 'node-a',
    health,
    reasons: [],
    connections: connected ? 1 : 0,
    openConnections: connected ? 1 : 0,
    createdAt: NOW - 600_000,
    lastActivityAt: NOW - 1000,
    detachedAt: connected ? null : NOW - 20_000,
    local: true,
    ...overrides,
  };
}

describe('retryAfter', () => {
  it('says nothing will free a slot (null, sessions_in_use) when every session is connected and in use', () => {
    const sessions = [session(HealthClass.Healthy), session(HealthClass.Healthy), session(HealthClass.Healthy)];
    expect(retryAfter(sessions, options, NOW)).toEqual({ retryAfterMs: null, reason: 'sessions_in_use' });
  });

  it('does not count a connected inactive session the allowed level cannot take (conservative)', () => {
    const sessions = [session(HealthClass.Inactive), session(HealthClass.Idle)];
    expect(retryAfter(sessions, { ...options, maxCleanupLevel: CleanupLevel.Conservative }, NOW)).toEqual({
      retryAfterMs: null,
      reason: 'sessions_in_use',
    });
  });

  it('gives the earliest resume-window expiry of a detached session the allowed level cannot take', () => {
    const moderate = { ...options, maxCleanupLevel: CleanupLevel.Moderate };
    const sessions = [
      session(HealthClass.Healthy),
      session(HealthClass.Detached, { detachedAt: NOW - 20_000 }), // expires in 100 s
      session(HealthClass.Detached, { detachedAt: NOW - 50_000 }), // expires in 70 s
    ];
    expect(retryAfter(sessions, moderate, NOW)).toEqual({ retryAfterMs: 70_000, reason: 'resume_window_expiry' });
  });

  it('counts a detached remote session by its record, never a lease nobody said is lapsing', () => {
    const moderate = { ...options, maxCleanupLevel: CleanupLevel.Moderate };
    const remote = session(HealthClass.Healthy, { local: false, nodeId: 'node-b', connections: null, openConnections: null });
    expect(retryAfter([remote], moderate, NOW)).toEqual({ retryAfterMs: null, reason: 'sessions_in_use' });
    const leases = new Map([['node-b', NOW + 9_000]]);
    expect(retryAfter([remote], moderate, NOW, leases)).toEqual({ retryAfterMs: 9_000, reason: 'lease_expiry' });
  });

  it('expects an unresponsive connection to be cut by the heartbeat and its session to expire after that', () => {
    const conservative = { ...options, maxCleanupLevel: CleanupLevel.Conservative };
    expect(retryAfter([session(HealthClass.Unresponsive)], conservative, NOW)).toEqual({
      retryAfterMs: 10_000 + 120_000,
      reason: 'heartbeat_termination',
    });
  });

  it('answers soon (cleanup_pending) when a session the allowed level removes is still counted', () => {
    expect(retryAfter([session(HealthClass.Zombie), session(HealthClass.Healthy)], options, NOW)).toEqual({
      retryAfterMs: MIN_RETRY_AFTER_MS,
      reason: 'cleanup_pending',
    });
    expect(retryAfter([session(HealthClass.Idle)], options, NOW).reason).toBe('cleanup_pending');
  });

  it('never answers less than the minimum, even for an expiry already passed', () => {
    const moderate = { ...options, maxCleanupLevel: CleanupLevel.Moderate };
    const late = session(HealthClass.Detached, { detachedAt: NOW - 119_990 });
    expect(retryAfter([late], moderate, NOW)).toEqual({ retryAfterMs: MIN_RETRY_AFTER_MS, reason: 'resume_window_expiry' });
  });
});
