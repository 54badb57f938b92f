/**
 * The baseline: what a team writes without the module. A plain `ws` server on an http server, the
 * heartbeat recipe from the `ws` README (isAlive flag, one interval pinging every socket), a naive
 * per-user Map, and the same wire surface as the example application (HS256 JWT at the upgrade,
 * `session` first, `echo`, the per-user limit). Same environment interface: PORT, WS_PATH,
 * WS_JWT_SECRET, WS_HEARTBEAT_INTERVAL_MS, WS_MAX_MANAGERS_PER_USER, WS_MAX_PAYLOAD_BYTES.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { baselineSettings, NaiveSessions, startHeartbeat, type BaselineSocket } from './lib/baseline.js';

const { port, path, userOfToken, heartbeatMs, limit, maxPayload } = baselineSettings();

const sessions = new NaiveSessions(limit, heartbeatMs);
const wss = new WebSocketServer({ noServer: true, maxPayload });
const server = createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
  } else {
    res.writeHead(404).end();
  }
});

// Async like an identity step that may look something up, as the module's resolver call is.
async function userOf(req: IncomingMessage, url: URL): Promise<string | null> {
  const header = req.headers.authorization;
  const token = header?.startsWith('Bearer ') ? header.slice(7) : url.searchParams.get('token');
  return token ? userOfToken(token) : null;
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
  socket.on('error', () => undefined);
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname !== path) return refuse(socket, 404, 'Not Found');
  void userOf(req, url).then((userId) => {
    if (userId === null) return refuse(socket, 401, 'Unauthorized');
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws as BaselineSocket, userId, url.searchParams.get('context')));
  });
});

function onConnection(ws: BaselineSocket, userId: string, requested: string | null): void {
  // The message listener first: the client may answer `session` at once.
  ws.on('message', (raw, isBinary) => {
    let message: { event?: unknown; data?: unknown };
    try {
      message = JSON.parse(isBinary ? '' : raw.toString()) as typeof message;
    } catch {
      message = {};
    }
    if (typeof message?.event !== 'string') return ws.send('{"event":"error","data":{"code":"BAD_MESSAGE"}}');
    if (message.event === 'echo') ws.send(JSON.stringify({ event: 'echo', data: message.data }));
  });
  sessions.admit(ws, userId, requested);
}

const heartbeat = startHeartbeat(() => wss.clients, heartbeatMs);

function shutdown(): void {
  clearInterval(heartbeat);
  for (const ws of wss.clients) ws.close(1001, 'GOING_AWAY');
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.once('SIGTERM', shutdown);

server.listen(port, '127.0.0.1', () => console.log(`bare ws server listening on http://127.0.0.1:${port}`));
