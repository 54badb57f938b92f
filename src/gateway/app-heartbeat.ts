import { WebSocket } from 'ws';
import { APP_PING_EVENT, APP_PONG_EVENT } from '../client/protocol.js';

/** The answer to {@link APP_PING_EVENT}, serialized once. */
const PONG_FRAME = JSON.stringify({ event: APP_PONG_EVENT });

/**
 * The server half of the app-level heartbeat. Browsers answer protocol pings but JavaScript
 * cannot see them, so a client learns that its connection is dead by sending
 * `{"event":"wsm:ping"}` after a silence and waiting for `{"event":"wsm:pong"}`. Answered here,
 * before any handler, and not counted as application activity: a tab left open would otherwise
 * never become idle or inactive. Returns whether `event` was the ping (then nothing else runs).
 */
export function answerAppPing(client: WebSocket, event: string): boolean {
  if (event !== APP_PING_EVENT) return false;
  if (client.readyState === WebSocket.OPEN) client.send(PONG_FRAME);
  return true;
}
