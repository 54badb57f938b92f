import { RegistryReplyError } from '../errors/registry-reply.error.js';
import { RegistryUnavailableError } from '../errors/registry-unavailable.error.js';

interface Deadline {
  at: number;
  expire: () => void;
}

/**
 * One timer for every registry call in flight instead of a timer per call: admission makes one
 * or two calls per socket, and a `setTimeout`/`clearTimeout` pair on an otherwise empty timer
 * list cost several µs each in the benchmark's profiles. The timer wakes at the earliest
 * deadline it was set for; calls that settle first just leave the set, and a wake that finds
 * nothing due sets the timer for what is left (nothing: it stays off until the next call).
 */
class Deadlines {
  private readonly pending = new Set<Deadline>();
  private timer: NodeJS.Timeout | undefined;
  private wakeAt = Number.POSITIVE_INFINITY;

  add(timeoutMs: number, expire: () => void): Deadline {
    const deadline = { at: Date.now() + timeoutMs, expire };
    this.pending.add(deadline);
    // A timer already set for an earlier moment will find this one then (or set itself for it).
    if (this.timer === undefined || deadline.at < this.wakeAt) this.schedule(deadline.at);
    return deadline;
  }

  delete(deadline: Deadline): void {
    this.pending.delete(deadline);
  }

  private schedule(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.wakeAt = at;
    this.timer = setTimeout(() => this.wake(), Math.max(0, at - Date.now()));
    this.timer.unref();
  }

  private wake(): void {
    this.timer = undefined;
    this.wakeAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    for (const deadline of [...this.pending]) {
      if (deadline.at <= now) {
        this.pending.delete(deadline);
        deadline.expire();
      } else if (deadline.at < next) next = deadline.at;
    }
    if (next !== Number.POSITIVE_INFINITY) this.schedule(next);
  }
}

const deadlines = new Deadlines();

function asRegistryError(operation: string, error: unknown): Error {
  return error instanceof RegistryUnavailableError || error instanceof RegistryReplyError ? error : new RegistryReplyError(operation, error);
}

/**
 * Awaits one registry call for at most `timeoutMs`. A call that does not settle in time is an
 * outage for its caller ({@link RegistryUnavailableError}), so that a hung registry never holds a
 * user's lock; an error that is not an outage is a {@link RegistryReplyError} naming `operation`.
 */
export function callRegistry<T>(operation: string, timeoutMs: number, call: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const deadline = deadlines.add(timeoutMs, () => {
      if (settled) return;
      settled = true;
      reject(new RegistryUnavailableError(new Error(`registry ${operation} did not answer within ${timeoutMs} ms`)));
    });
    const settle = (ok: boolean, value: unknown) => {
      deadlines.delete(deadline);
      if (settled) return;
      settled = true;
      if (ok) resolve(value as T);
      else reject(asRegistryError(operation, value));
    };
    let pending: Promise<T>;
    try {
      pending = call();
    } catch (error) {
      settle(false, error);
      return;
    }
    Promise.resolve(pending).then(
      (value) => settle(true, value),
      (error: unknown) => settle(false, error),
    );
  });
}

/**
 * {@link callRegistry} for a registry that answers within the call (the in-memory one): nothing
 * can hang, so no deadline is kept; errors are shaped the same way.
 */
export function callInProcess<T>(operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return call().catch((error: unknown) => Promise.reject(asRegistryError(operation, error)));
  } catch (error) {
    return Promise.reject(asRegistryError(operation, error));
  }
}
