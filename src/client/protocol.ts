// The wire protocol as the client sees it (README, "Wire protocol" and "Close codes"). Kept free of
// any import so that the browser bundle stays dependency-free; the server imports the heartbeat
// names from here so that both sides share one spelling.

/** Reserved event a client sends after a silence; the server answers {@link APP_PONG_EVENT} at once. */
export const APP_PING_EVENT = 'wsm:ping';
/** The server's answer to {@link APP_PING_EVENT}. Neither frame counts as application activity. */
export const APP_PONG_EVENT = 'wsm:pong';

/** Close codes the client acts on. */
export const ClientCloseCodes = {
  /** Server draining (SIGTERM): reconnect. */
  GoingAway: 1001,
  /** Closed by the client itself: its ping (`PING_TIMEOUT`) or its handshake (`HANDSHAKE_TIMEOUT`) went unanswered. */
  Timeout: 4000,
  /** Removed by cleanup (an `evicted` frame says why). */
  Evicted: 4001,
  /** A newer connection to the same context took this one's place. */
  Superseded: 4002,
  /** Per-user limit reached: wait `retryAfterMs`. */
  LimitReached: 4029,
} as const;

/** The `data` of the `session` (and `joined`) frame. */
export interface SessionInfo {
  managerId: string;
  context: string;
  /** An existing manager of this context was re-attached (no new slot). */
  resumed: boolean;
  limit: number;
  active: number;
  /** The emergency cleanup's report when admission needed one, else null. */
  cleanup: unknown;
}

/** The `data` of an `error` frame; `MANAGER_LIMIT_REACHED` carries the limit fields. */
export interface ErrorInfo {
  code: string;
  limit?: number;
  active?: number;
  /** When a retry can succeed; null when the server cannot tell (then the client backs off). */
  retryAfterMs?: number | null;
  reason?: string;
}

/** The `data` of the `evicted` frame sent before close 4001. */
export interface EvictedInfo {
  level: string;
  reason: string;
}
