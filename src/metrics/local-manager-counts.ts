import type { LocalManagerStore } from '../managers/local-manager.store.js';

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
  for (const manager of store.values()) {
    let open = 0;
    for (const connection of manager.connections) if (connection.isOpen) open++;
    counts.connections += open;
    if (open > 0) counts.connected++;
    else counts.detached++;
  }
  return counts;
}
