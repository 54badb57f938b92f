import { WebSocket } from 'ws';

/** Close code of a socket whose send buffer passed `maxBufferedBytes`. */
export const SLOW_CONSUMER_CLOSE_CODE = 4009;
/** Close reason sent with {@link SLOW_CONSUMER_CLOSE_CODE}. */
export const SLOW_CONSUMER_REASON = 'SLOW_CONSUMER';
/**
 * How long a slow consumer gets to take the close frame (queued behind what it did not read)
 * before its TCP connection is cut, freeing what the server still holds for it.
 */
export const SLOW_CONSUMER_GRACE_MS = 1_000;

/** What a {@link sendBounded} call did. */
export type BoundedSendResult = 'sent' | 'not_open' | 'slow_consumer';

/**
 * The one "send if open" of the module, with the send-buffer cap: writes `frame` when the socket
 * is OPEN and its `bufferedAmount` plus the frame stays within `maxBufferedBytes`; otherwise
 * closes the socket with 4009 `SLOW_CONSUMER` (then cuts it after {@link SLOW_CONSUMER_GRACE_MS})
 * and answers `slow_consumer`, once: later calls see a socket that is no longer open.
 */
export function sendBounded(socket: WebSocket, frame: string, maxBufferedBytes: number): BoundedSendResult {
  if (socket.readyState !== WebSocket.OPEN) return 'not_open';
  const buffered = socket.bufferedAmount;
  // UTF-8 is at most 3 bytes per UTF-16 unit: the exact length is computed only near the cap.
  if (buffered + frame.length * 3 > maxBufferedBytes && buffered + Buffer.byteLength(frame) > maxBufferedBytes) {
    closeSlowConsumer(socket);
    return 'slow_consumer';
  }
  socket.send(frame);
  return 'sent';
}

/** Closes a socket that does not take what it is sent: close frame first, cut shortly after. */
export function closeSlowConsumer(socket: WebSocket): void {
  try {
    socket.close(SLOW_CONSUMER_CLOSE_CODE, SLOW_CONSUMER_REASON);
  } catch {
    // close() throws only on a socket that never opened; terminate() below releases it.
  }
  // A peer that does not read will not read the close frame either.
  setTimeout(() => socket.terminate(), SLOW_CONSUMER_GRACE_MS).unref();
}
