import type { Writable } from 'node:stream';

/** One corked TCP socket: how many inbound frames on it are still being answered. */
interface Batch {
  pending: number;
  flushQueued: boolean;
  /** Kept corked to the end of the turn whatever `end` says (an upgrade waiting for its admission). */
  toTurnEnd: boolean;
}

/**
 * Coalesces what the server writes to a socket within one turn of the event loop into one
 * write: the TCP socket is corked while frames that arrived together are being answered, and
 * uncorked as soon as the last answer is written, or at the end of the turn at the latest
 * (a handler that waits on I/O never holds anything back longer than that). Four echoes read
 * in one chunk leave in one `writev` instead of four, and the HTTP 101 answer of an upgrade
 * leaves with the `session` frame when admission completes in the same turn (in-memory registry).
 * Nothing is reordered; frames only wait for the rest of the turn they were written in. A frame
 * read alone is not corked at all (the adapter's `frameReadAlone`): there is nothing to coalesce
 * its answer with.
 */
export class WriteCoalescer {
  private readonly batches = new Map<Writable, Batch>();
  private endOfTurnQueued = false;

  /** Corks `socket` (once) for the rest of this turn; `end` may release it earlier. */
  begin(socket: Writable): void {
    const batch = this.batchOf(socket);
    if (batch) batch.pending++;
  }

  /** One frame begun with {@link begin} is answered: once none is left, the socket is uncorked. */
  end(socket: Writable): void {
    const batch = this.batches.get(socket);
    if (batch === undefined) return;
    if (batch.pending > 0) batch.pending--;
    if (batch.pending > 0 || batch.flushQueued || batch.toTurnEnd) return;
    batch.flushQueued = true;
    // After the current synchronous work: frames of one chunk are delivered back to back.
    queueMicrotask(() => {
      batch.flushQueued = false;
      if (batch.pending === 0 && this.batches.get(socket) === batch) this.flush(socket);
    });
  }

  /** Whether `socket` is corked by a batch of this turn. */
  corks(socket: Writable): boolean {
    return this.batches.has(socket);
  }

  /** Corks `socket` until the end of this turn (the upgrade: 101 answer, then the `session` frame). */
  holdForTurn(socket: Writable): void {
    const batch = this.batchOf(socket);
    if (batch) batch.toTurnEnd = true;
  }

  private batchOf(socket: Writable): Batch | undefined {
    let batch = this.batches.get(socket);
    if (batch === undefined) {
      if (socket.destroyed) return undefined;
      socket.cork();
      batch = { pending: 0, flushQueued: false, toTurnEnd: false };
      this.batches.set(socket, batch);
      if (!this.endOfTurnQueued) {
        this.endOfTurnQueued = true;
        setImmediate(this.flushAll);
      }
    }
    return batch;
  }

  private flush(socket: Writable): void {
    this.batches.delete(socket);
    socket.uncork();
  }

  private readonly flushAll = (): void => {
    this.endOfTurnQueued = false;
    for (const socket of [...this.batches.keys()]) this.flush(socket);
  };
}
