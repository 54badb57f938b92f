import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';

/** A frame of the wire protocol: `{"event": string, "data": any}`. */
export interface ClientFrame {
  event: string;
  data: unknown;
}

/** What {@link runNodeClient} saw: every frame in order, and how the socket closed. */
export interface NodeClientResult {
  frames: ClientFrame[];
  code: number;
  reason: string;
  /** What `code` means for this protocol, and what to do about it. */
  meaning: string;
  /** The socket error, if any (a refused handshake reads `Unexpected server response: 401`). */
  error?: string;
}

/** The `MANAGER_LIMIT_REACHED` error frame's data, sent just before close 4029. */
interface LimitError {
  limit?: number;
  active?: number;
  retryAfterMs?: number;
}

/** What a close code means for this protocol (README, "Wire protocol"), and what a client should do. */
export function closeMeaning(code: number, frames: readonly ClientFrame[] = [], error?: string): string {
  const limit = frames.findLast((f) => f.event === 'error')?.data as LimitError | undefined;
  switch (code) {
    case 1000: return 'normal closure';
    case 1001: return 'server going away (shutdown or restart): reconnect with backoff; the same context resumes';
    case 1006: return `no close frame: the handshake was refused (401 bad or expired token, 403 Origin not allowed) or the network dropped${error ? ` (${error})` : ''}`;
    case 1009: return 'frame larger than WS_MAX_PAYLOAD_BYTES';
    case 1013: return 'registry unavailable: retry with backoff';
    case 4001: return 'evicted by cleanup to make room for another session of this user';
    case 4002: return 'superseded by a newer connection to the same context';
    case 4029: return `per-user limit reached (${limit?.active}/${limit?.limit} sessions): retry after ${limit?.retryAfterMs} ms or close another session`;
    default: return 'unexpected close code';
  }
}

/**
 * Connects to `url` (`ws://HOST:PORT/ws?context=CTX`) as the user of `token`, sends
 * `{"event":"echo","data":"hello"}` once the `session` frame arrives, closes normally when the
 * echo comes back, and resolves with every frame received and the close code.
 */
export function runNodeClient(url: string, token: string): Promise<NodeClientResult> {
  return new Promise((done) => {
    const frames: ClientFrame[] = [];
    let error: string | undefined;
    // snippet:start
    // `Authorization: Bearer` (or `?token=JWT` in the URL, as a browser must).
    const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` } });
    ws.on('message', (raw) => {
      const frame = JSON.parse(String(raw)) as ClientFrame; // session | echo | error | evicted | joined
      frames.push(frame);
      if (frame.event === 'session') ws.send(JSON.stringify({ event: 'echo', data: 'hello' }));
      if (frame.event === 'echo') ws.close(1000, 'done');
    });
    ws.on('error', (e) => (error = e.message)); // a refused handshake: "Unexpected server response: 401"
    ws.on('close', (code, reason) => {
      // 4029: the error frame before it has retryAfterMs; 4001 evicted; 4002 superseded; 1001/1013: retry with backoff
      done({ frames, code, reason: String(reason), meaning: closeMeaning(code, frames, error), error });
    });
    // snippet:end
  });
}

// CLI: `node dist/example/node-client.js 'ws://localhost:3000/ws?context=cli' JWT` (or WS_TOKEN=JWT).
// Prints every frame and the close; exits 0 on a normal close, 1 otherwise.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [url, token = process.env.WS_TOKEN] = process.argv.slice(2);
  if (!url || !token) {
    console.error('usage: node dist/example/node-client.js WS_URL [JWT]   (or WS_TOKEN=JWT)');
    process.exit(2);
  }
  const result = await runNodeClient(url, token);
  for (const frame of result.frames) console.log(`← ${JSON.stringify(frame)}`);
  console.log(`closed ${result.code} ${result.reason}: ${result.meaning}`);
  process.exitCode = result.code === 1000 ? 0 : 1;
}
