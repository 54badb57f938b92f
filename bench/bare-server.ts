/**
 * The baseline: what a team writes without the module. A plain `ws` server on an http server, the
 * heartbeat recipe from the `ws` README (isAlive flag, one interval pinging every socket), a naive
 * per-user Map, and the same wire surface as the example application (HS256 JWT at the upgrade,
 * `session` first, `echo`, the per-user limit). Same environment interface: PORT, WS_PATH,
 * WS_JWT_SECRET, WS_HEARTBEAT_INTERVAL_MS, WS_MAX_MANAGERS_PER_USER, WS_MAX_PAYLOAD_BYTES.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { hs256UserVerifier } from '../example/jwt-identity.js';

interface BareSocket extends WebSocket {
  isAlive: boolean;
}

const env = process.env;
const port = Number(env.PORT ?? 3000);
const path = env.WS_PATH ?? '/ws';
// The example app's own verifier, so both pay the same per-handshake cost.
const userOfToken = hs256UserVerifier(env.WS_JWT_SECRET ?? 'bench-secret');
const heartbeatMs = Number(env.WS_HEARTBEAT_INTERVAL_MS ?? 30_000);
const limit = Number(env.WS_MAX_MANAGERS_PER_USER ?? 20);
const maxPayload = Number(env.WS_MAX_PAYLOAD_BYTES ?? 65_536);
const CONTEXT = /^[A-Za-z0-9._:-]{1,64}$/;

const byUser = new Map<string, Set<WebSocket>>();
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
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws as BareSocket, userId, url.searchParams.get('context')));
  });
});

function onConnection(ws: BareSocket, userId: string, requested: string | null): void {
  ws.on('error', () => undefined);
  const context = requested ?? randomUUID();
  if (!CONTEXT.test(context)) return ws.close(1008, 'INVALID_CONTEXT');
  let sockets = byUser.get(userId);
  if (!sockets) byUser.set(userId, (sockets = new Set()));
  if (sockets.size >= limit) {
    ws.send(JSON.stringify({ event: 'error', data: { code: 'MANAGER_LIMIT_REACHED', limit, active: sockets.size, retryAfterMs: heartbeatMs } }));
    return ws.close(4029, 'MANAGER_LIMIT_REACHED');
  }
  sockets.add(ws);
  ws.isAlive = true;
  ws.on('pong', () => (ws.isAlive = true));
  ws.on('close', () => {
    sockets.delete(ws);
    if (sockets.size === 0) byUser.delete(userId);
  });
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
  const session = { managerId: randomUUID(), context, resumed: false, limit, active: sockets.size, cleanup: null };
  ws.send(JSON.stringify({ event: 'session', data: session }));
}

// The ws README recipe: every interval, terminate who did not answer the last ping, ping the rest.
const heartbeat = setInterval(() => {
  for (const client of wss.clients) {
    const ws = client as BareSocket;
    if (!ws.isAlive) {
      ws.terminate();
      continue;
    }
    ws.isAlive = false;
    ws.ping();
  }
}, heartbeatMs);

function shutdown(): void {
  clearInterval(heartbeat);
  for (const ws of wss.clients) ws.close(1001, 'GOING_AWAY');
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.once('SIGTERM', shutdown);

server.listen(port, '127.0.0.1', () => console.log(`bare ws server listening on http://127.0.0.1:${port}`));
