import type { ManagedConnection } from './managed-connection.js';

/**
 * A manager's connections, oldest first: the read side of a `Set` (`size`, `has`, iteration) in
 * a single field. Almost every manager holds one connection, and a `Set` with its hash table
 * cost ~150 bytes of heap per manager, which a million managers turned into GC pauses; this
 * holds nothing (no connection), the connection itself (one) or an array (two or more).
 * Iteration walks a snapshot, so a connection may be removed while iterating.
 */
export class ConnectionList implements Iterable<ManagedConnection> {
  private items: ManagedConnection | ManagedConnection[] | null = null;

  /** Connections held. */
  get size(): number {
    const items = this.items;
    return items === null ? 0 : Array.isArray(items) ? items.length : 1;
  }

  /** Whether `connection` is held. */
  has(connection: ManagedConnection): boolean {
    const items = this.items;
    return items === connection || (Array.isArray(items) && items.includes(connection));
  }

  /** Adds `connection` as the newest (no-op when held). */
  add(connection: ManagedConnection): this {
    const items = this.items;
    if (items === null) this.items = connection;
    else if (Array.isArray(items)) {
      if (!items.includes(connection)) items.push(connection);
    } else if (items !== connection) this.items = [items, connection];
    return this;
  }

  /** Removes `connection`; `false` when it was not held. */
  delete(connection: ManagedConnection): boolean {
    const items = this.items;
    if (items === connection) {
      this.items = null;
      return true;
    }
    if (!Array.isArray(items)) return false;
    const index = items.indexOf(connection);
    if (index < 0) return false;
    items.splice(index, 1);
    if (items.length === 1) this.items = items[0]!;
    return true;
  }

  /** Removes every connection. */
  clear(): void {
    this.items = null;
  }

  /** The oldest connection, if any. */
  oldest(): ManagedConnection | undefined {
    const items = this.items;
    return items === null ? undefined : Array.isArray(items) ? items[0] : items;
  }

  // An array iterator over a snapshot, not a generator: the sweep iterates every manager's
  // connections, and for a million managers a generator was 4.5x slower with 5x the GC work.
  [Symbol.iterator](): Iterator<ManagedConnection> {
    const items = this.items;
    return (items === null ? NONE : Array.isArray(items) ? items.slice() : [items])[Symbol.iterator]();
  }
}

const NONE: readonly ManagedConnection[] = Object.freeze([]);
