import type { CleanupReport } from '../cleanup/cleanup-report.js';

/**
 * The user holds `limit` managers and no cleanup level allowed by `maxCleanupLevel` freed a slot.
 * Clients receive it as `MANAGER_LIMIT_REACHED` and close code 4029; retry after `retryAfterMs`
 * or close one of the user's other sessions.
 */
export class ManagerLimitExceededError extends Error {
  /** Stable machine-readable code, also the wire error code. */
  readonly code = 'MANAGER_LIMIT_REACHED';

  constructor(
    readonly userId: string,
    readonly limit: number,
    readonly active: number,
    readonly retryAfterMs: number,
    readonly cleanup: CleanupReport | null = null,
    /** The context that could not be admitted. */
    readonly context = '',
  ) {
    super(
      `User ${userId} already holds ${active} of ${limit} WebSocket sessions and cleanup freed none; ` +
        `close another session or retry in ${retryAfterMs} ms`,
    );
    this.name = 'ManagerLimitExceededError';
  }
}
