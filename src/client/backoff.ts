/** How reconnect delays grow. */
export interface BackoffOptions {
  /** Upper bound of the first delay. @default 500 */
  baseMs: number;
  /** No delay is ever longer. @default 20000 */
  capMs: number;
}

/**
 * "Full jitter" (AWS architecture blog): a uniform draw in `[0, min(cap, base · 2^attempt)]`.
 * Spreads a crowd of clients that lost the same server over the whole window instead of
 * sending them back in synchronized waves. `random` is injectable so that tests can seed it.
 */
export function backoffDelay(attempt: number, o: BackoffOptions, random: () => number = Math.random): number {
  // 2^attempt overflows to Infinity for large attempts; min() with the cap keeps it finite.
  const ceiling = Math.min(o.capMs, o.baseMs * 2 ** Math.max(0, attempt));
  return Math.floor(random() * ceiling);
}
