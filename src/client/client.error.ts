/** Stable codes of {@link WebSocketClientError}. */
export type WebSocketClientErrorCode = 'SEND_QUEUE_FULL' | 'CLIENT_CLOSED';

/**
 * Thrown by `send()`: `SEND_QUEUE_FULL` when `maxQueue` frames already wait for the connection
 * (nothing is dropped silently: the caller decides), `CLIENT_CLOSED` after `close()` or a stop.
 */
export class WebSocketClientError extends Error {
  override readonly name = 'WebSocketClientError';

  constructor(
    /** Stable code for programs. */
    readonly code: WebSocketClientErrorCode,
    message: string,
  ) {
    super(message);
  }
}
