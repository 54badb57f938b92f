import type { CleanupReport } from '../cleanup/cleanup-report.js';
import type { RetryAfterReason } from '../cleanup/retry-after.js';

/** The wire payload of a refusal: the `data` of `{"event":"error","data":{...}}`. */
export interface ManagerLimitReachedPayload {
  code: 'MANAGER_LIMIT_REACHED';
  limit: number;
  active: number;
  /** Milliseconds after which a retry can find a slot; `null`: nothing will free one by itself. */
  retryAfterMs: number | null;
  /** What frees that slot, or why nothing will (absent when the refusal did not say). */
  reason?: RetryAfterReason;
}

/**
 * The user holds `limit` managers and no cleanup level allowed by `maxCleanupLevel` freed a slot.
 * Clients receive it as `MANAGER_LIMIT_REACHED` and close code 4029; retry after `retryAfterMs`
 * or, when it is `null` (every session is in use, see `retryReason`), close one of the user's
 * other sessions.
 */
export class ManagerLimitExceededError extends Error {
  /** Stable machine-readable code, also the wire error code. */
  readonly code = 'MANAGER_LIMIT_REACHED';

  constructor(
    readonly userId: string,
    readonly limit: number,
    readonly active: number,
    /** Milliseconds after which a retry can find a slot; `null`: nothing will free one by itself. */
    readonly retryAfterMs: number | null,
    readonly cleanup: CleanupReport | null = null,
    /** The context that could not be admitted. */
    readonly context = '',
    /** What frees a slot after `retryAfterMs`, or why nothing will. */
    readonly retryReason: RetryAfterReason | null = null,
  ) {
    super(
      `User ${userId} already holds ${active} of ${limit} WebSocket sessions and cleanup freed none; ` +
        (retryAfterMs === null ? 'close another session (none will free by itself)' : `close another session or retry in ${retryAfterMs} ms`),
    );
    this.name = 'ManagerLimitExceededError';
  }

  /** What the client is sent in the `error` frame before close 4029. */
  toPayload(): ManagerLimitReachedPayload {
    const payload: ManagerLimitReachedPayload = { code: this.code, limit: this.limit, active: this.active, retryAfterMs: this.retryAfterMs };
    if (this.retryReason !== null) payload.reason = this.retryReason;
    return payload;
  }
}
