import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { connect, type LifecycleEvents, type SessionInfo, type WebSocketClient } from '../src/client/index.js';

/** What {@link startNodeClient}'s client went through, once it stopped. */
export interface NodeClientResult {
  /** The last `session` data (managerId, context, resumed, cleanup), if one opened. */
  session: SessionInfo | null;
  /** Frames received, in order (`session`, `echo`, `error`, …) and every disconnect. */
  lines: string[];
  /** Each socket close, with what the client decided (`reconnectInMs` null: no reconnect). */
  disconnects: LifecycleEvents['disconnect'][];
  /** Why it stopped: `closed` after the echo, `unauthorized`, `evicted`, … */
  stopped: LifecycleEvents['stopped'];
}

/** Events this example receives and sends besides the module's own. */
interface EchoEvents {
  echo: string;
}

/**
 * Connects with `nestjs-websocket-manager/client` to `url` (`ws://HOST:PORT/ws`) as the user of
 * `token`, sends `echo` "hello" once the session opens, and closes when the echo comes back.
 * `result` resolves when the client stops (after the echo, or when a close code or a refused
 * token stops it); meanwhile it reconnects as the protocol says (1001, 1006, 4029 after
 * `retryAfterMs`, …).
 */
export function startNodeClient(url: string, token: string, context?: string): { client: WebSocketClient<EchoEvents, EchoEvents>; result: Promise<NodeClientResult> } {
  const lines: string[] = [];
  const disconnects: LifecycleEvents['disconnect'][] = [];
  let done!: (stopped: LifecycleEvents['stopped']) => void;
  const stopped = new Promise<LifecycleEvents['stopped']>((settle) => (done = settle));
  // snippet:start
  const client = connect<EchoEvents, EchoEvents>({
    url, // ws://HOST:PORT/ws: the token and the context go in the query
    token: () => token, // called before every (re)connect: return a fresh token here
    context, // in Node: explicit, or the server makes one and this client keeps it
    WebSocket, // Node 20 has no global WebSocket: pass ws's
  });
  client.on('session', (session) => {
    lines.push(`← session ${JSON.stringify(session)}`); // managerId, context, resumed, cleanup
    client.send('echo', 'hello'); // queued (bounded) while not connected
  });
  client.on('echo', (data) => {
    lines.push(`← echo ${JSON.stringify(data)}`);
    client.close(); // 1000, and no reconnect ever follows
  });
  client.on('error', (error) => lines.push(`← error ${JSON.stringify(error)}`)); // MANAGER_LIMIT_REACHED: retryAfterMs
  client.on('disconnect', (d) => {
    disconnects.push(d); // 4029 waits retryAfterMs; 4001/4002 stop; 1001/1006/1011/1013 back off
    lines.push(`closed ${d.code} ${d.reason}: ${d.reconnectInMs === null ? 'no reconnect' : `reconnect in ${d.reconnectInMs} ms`}`);
  });
  client.on('stopped', (s) => done(s)); // closed, evicted, superseded, unauthorized, refused
  // snippet:end
  return { client, result: stopped.then((s) => ({ session: client.session, lines, disconnects, stopped: s })) };
}

// CLI: `node dist/example/node-client.js 'ws://localhost:3000/ws' JWT [CONTEXT]` (or WS_TOKEN=JWT and '' as JWT).
// Prints what happens; exits 0 after the echo, 1 when the client stopped for another reason.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [url, tokenArgument, context] = process.argv.slice(2);
  const token = tokenArgument || process.env.WS_TOKEN;
  if (!url || !token) {
    console.error('usage: node dist/example/node-client.js WS_URL [JWT] [CONTEXT]   (or WS_TOKEN=JWT)');
    process.exit(2);
  }
  const { client, result } = startNodeClient(url, token, context);
  client.on('disconnect', (d) => console.log(`closed ${d.code} ${d.reason}: ${d.reconnectInMs === null ? 'no reconnect' : `reconnect in ${d.reconnectInMs} ms`}`));
  client.on('session', (s) => console.log(`← session ${JSON.stringify(s)}`));
  client.on('echo', (data) => console.log(`← echo ${JSON.stringify(data)}`));
  const { stopped } = await result;
  console.log(`stopped: ${stopped.reason}`);
  process.exitCode = stopped.reason === 'closed' ? 0 : 1;
}
