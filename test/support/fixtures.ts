import type { ClientOptions } from 'ws';
import { mulberry32 } from '../../bench/lib/seeded-random.js';
import { HealthClass, HealthReason, type Admission, type HealthAssessment, type ManagerLifecycleEvent, type ManagerRecord } from '../../src/index.js';
import type { SocketHarness, SocketPair } from './socket-harness.js';
import type { ManagerTestBed } from './testing-module.js';

/** A socket pair and the admission of its server side. */
export interface AdmittedPair extends SocketPair {
  admission: Admission;
}

/** Opens `n` real sockets and admits them as contexts `${prefix}-0..n-1` of `userId`, in order. */
export async function admitMany(
  bed: ManagerTestBed,
  harness: SocketHarness,
  userId: string,
  n: number,
  options: { prefix?: string; client?: ClientOptions } = {},
): Promise<AdmittedPair[]> {
  const result: AdmittedPair[] = [];
  for (let i = 0; i < n; i++) {
    const pair = await harness.connect(options.client ?? {});
    const admission = await bed.factory.acquire({ userId, context: `${options.prefix ?? 'tab'}-${i}`, socket: pair.server });
    result.push({ ...pair, admission });
  }
  return result;
}

/** Collects the lifecycle events emitted from now on; call `stop()` when done. */
export function recordEvents(bed: ManagerTestBed): { events: ManagerLifecycleEvent[]; stop(): void } {
  const events: ManagerLifecycleEvent[] = [];
  const subscription = bed.lifecycle.events$.subscribe((e) => events.push(e));
  return { events, stop: () => subscription.unsubscribe() };
}

/** The next text frame a client receives, parsed. */
export function nextMessage(pair: SocketPair): Promise<{ event: string; data: unknown }> {
  return new Promise((resolve) => pair.client.once('message', (raw) => resolve(JSON.parse(String(raw)))));
}

/** Resolves with the close code and reason the client saw. */
export function closeOf(pair: SocketPair): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => pair.client.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
}

export interface Random {
  next(): number;
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
}

/** A small deterministic PRNG (mulberry32), so property-style failures can be replayed by seed. */
export function seededRandom(seed: number): Random {
  const next = mulberry32(seed);
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  return { next, int, pick: <T>(items: readonly T[]) => items[int(0, items.length - 1)]! };
}

const REASON_OF: Record<HealthClass, HealthReason[]> = {
  [HealthClass.Zombie]: [HealthReason.SocketsClosed],
  [HealthClass.Unresponsive]: [HealthReason.PongTimeout],
  [HealthClass.Inactive]: [HealthReason.InactiveThreshold],
  [HealthClass.Detached]: [HealthReason.Detached],
  [HealthClass.Idle]: [HealthReason.IdleThreshold],
  [HealthClass.Healthy]: [],
};

let assessmentSeq = 0;

/** A plain assessment for candidate-selection tests; stamps default to "now". */
export function assessment(health: HealthClass, overrides: Partial<HealthAssessment> = {}): HealthAssessment {
  const id = `m-${++assessmentSeq}`;
  return {
    managerId: id,
    userId: 'u',
    context: id,
    nodeId: 'node-a',
    health,
    reasons: REASON_OF[health],
    connections: health === HealthClass.Detached ? 0 : 1,
    openConnections: health === HealthClass.Detached || health === HealthClass.Zombie ? 0 : 1,
    createdAt: 0,
    lastActivityAt: 1_000_000,
    detachedAt: health === HealthClass.Detached ? 1_000_000 : null,
    local: true,
    ...overrides,
  };
}

let recordSeq = 0;

/** A fresh registry record (unique managerId `m-N`) of `userId`'s `context` on `nodeId`, stamped now. */
export function managerRecord(userId: string, context: string, nodeId: string): ManagerRecord {
  const now = Date.now();
  return { managerId: `m-${++recordSeq}`, userId, context, nodeId, createdAt: now, lastActivityAt: now, detachedAt: null };
}
