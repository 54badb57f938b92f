/** The tail of a key held by {@link KeyedMutex.runNow}: settled, so whoever queues behind it waits one microtask. */
const HELD: Promise<unknown> = Promise.resolve();

/**
 * Serialises async sections per key (per user); keys with nothing queued hold no memory.
 *
 * A section that never settles (a hung registry call the caller forgot to bound) must not wedge
 * its key forever: a waiter gives up on the section before it after `maxWaitMs` and runs anyway.
 * Callers bound their own I/O well below that; this is the backstop.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  /**
   * @param maxWaitMs How long a section waits for the one before it before running anyway.
   * @param onExpired Told when that happened (a section that hangs, or one that waits for its own key).
   */
  constructor(
    private readonly maxWaitMs = 30_000,
    private readonly onExpired: (key: string) => void = () => undefined,
  ) {}

  /** Runs `section` after every section queued before it for `key`; a failure does not block the next. */
  run<T>(key: string, section: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key);
    // Admission takes a lock per socket: no async wrapper, the section's own promise is answered.
    let current: Promise<T>;
    if (previous) current = this.bounded(key, previous).then(section);
    else {
      try {
        current = section();
      } catch (error) {
        return Promise.reject(error as Error);
      }
    }
    const release = (): void => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
    const tail: Promise<void> = current.then(release, release);
    this.tails.set(key, tail);
    return current;
  }

  /**
   * Runs a synchronous `section` at once, holding `key` meanwhile: anything queued for `key` from
   * inside it (a listener that takes the same lock) runs after it. The key must be free
   * ({@link isBusy} false), as a section that waited could not run synchronously.
   */
  runNow<T>(key: string, section: () => T): T {
    if (this.tails.has(key)) throw new Error(`KeyedMutex.runNow: ${key} is held`);
    this.tails.set(key, HELD);
    try {
      return section();
    } finally {
      if (this.tails.get(key) === HELD) this.tails.delete(key);
    }
  }

  /** Whether a section is running or queued for `key`. */
  isBusy(key: string): boolean {
    return this.tails.has(key);
  }

  private bounded(key: string, previous: Promise<unknown>): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.onExpired(key);
        resolve();
      }, this.maxWaitMs);
      timer.unref();
    });
    return Promise.race([previous, expired]).finally(() => clearTimeout(timer));
  }
}
