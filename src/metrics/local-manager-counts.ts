import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { HealthClass } from '../health/health-class.js';
import type { LocalManagerStore } from '../managers/local-manager.store.js';
import type { WebSocketManager } from '../managers/websocket-manager.js';

/** What this instance holds right now, read from its sockets. */
export interface LocalManagerCounts {
  /** Managers with at least one OPEN socket. */
  connected: number;
  /** Managers without an open socket (released, or whose sockets died unnoticed). */
  detached: number;
  /** OPEN sockets over every manager. */
  connections: number;
}

/**
 * Counts the managers and open connections of `store` in one pass. `connected + detached` is
 * always `store.size`; a manager counts as connected only while one of its sockets is OPEN, so
 * peers that died without a close frame show up here before any cleanup ran.
 */
export function countLocalManagers(store: LocalManagerStore): LocalManagerCounts {
  const counts: LocalManagerCounts = { connected: 0, detached: 0, connections: 0 };
  for (const manager of store.values()) countManager(counts, manager);
  return counts;
}

function countManager(counts: LocalManagerCounts, manager: WebSocketManager): void {
  let open = 0;
  for (const connection of manager.connections) if (connection.isOpen) open++;
  counts.connections += open;
  if (open > 0) counts.connected++;
  else counts.detached++;
}

/** The managers of each health class, as `HealthAssessmentService.classOf` judges them. */
export type ManagerClassifier = (manager: WebSocketManager, now: number) => HealthClass;

/** {@link LocalManagerCounts}, and with a classifier the managers of each health class. */
export interface LocalManagerCensus extends LocalManagerCounts {
  byHealth: Record<HealthClass, number>;
}

/** Managers counted between two yields to the event loop. */
export const CENSUS_SLICE = 5000;

/**
 * {@link countLocalManagers} (and, with `classify`, the managers of each health class) in slices
 * of `slice` managers with a turn of the event loop between them: one pass over a million
 * managers costs 80–90 ms of CPU, which a metrics scrape or a health probe must not take as one
 * block. Managers added or removed during the pass may or may not be counted.
 */
export async function censusLocalManagers(store: LocalManagerStore, classify?: ManagerClassifier, slice = CENSUS_SLICE): Promise<LocalManagerCensus> {
  const byHealth = Object.fromEntries(Object.values(HealthClass).map((c) => [c, 0])) as Record<HealthClass, number>;
  const census: LocalManagerCensus = { connected: 0, detached: 0, connections: 0, byHealth };
  const now = Date.now();
  let counted = 0;
  for (const manager of store.values()) {
    countManager(census, manager);
    if (classify) byHealth[classify(manager, now)]++;
    if (++counted % slice === 0) await yieldToLoop();
  }
  return census;
}
