/** Keys remembered at most; past that the oldest are forgotten (a flood of distinct keys stays bounded). */
const MAX_KEYS = 1_000;

/**
 * Decides which of many similar log lines to write: the first of each key, then at most one per
 * `windowMs`, carrying how many were suppressed in between. What a hostile client can trigger
 * per frame (a throwing handler, a refused handshake) is logged once, not once per frame.
 */
export class LogThrottle {
  private readonly seen = new Map<string, { at: number; suppressed: number }>();

  constructor(private readonly windowMs = 60_000) {}

  /**
   * `null`: do not log this one. Otherwise log it, with the number of lines of the same key
   * suppressed since the last one written (0 the first time).
   */
  take(key: string, now = Date.now()): number | null {
    const entry = this.seen.get(key);
    if (entry && now - entry.at < this.windowMs) {
      entry.suppressed++;
      return null;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.seen.delete(key);
    if (this.seen.size >= MAX_KEYS) this.seen.delete(this.seen.keys().next().value!);
    this.seen.set(key, { at: now, suppressed: 0 });
    return suppressed;
  }
}
