import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer, type ClientOptions } from 'ws';

/** A server-side socket and the real client connected to it over loopback. */
export interface SocketPair {
  client: WebSocket;
  server: WebSocket;
}

/** A bare `ws` server on port 0 that hands out connected (client, server) socket pairs. */
export class SocketHarness {
  private readonly pending: ((socket: WebSocket) => void)[] = [];
  private readonly clients = new Set<WebSocket>();

  private constructor(private readonly wss: WebSocketServer) {
    wss.on('connection', (socket) => {
      socket.on('error', () => undefined);
      this.pending.shift()?.(socket);
    });
  }

  static async start(): Promise<SocketHarness> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    return new SocketHarness(wss);
  }

  get port(): number {
    return (this.wss.address() as AddressInfo).port;
  }

  async connect(options: ClientOptions = {}): Promise<SocketPair> {
    const server = new Promise<WebSocket>((resolve) => this.pending.push(resolve));
    const client = new WebSocket(`ws://127.0.0.1:${this.port}`, options);
    client.on('error', () => undefined);
    this.clients.add(client);
    await once(client, 'open');
    return { client, server: await server };
  }

  async connectMany(n: number, options: ClientOptions = {}): Promise<SocketPair[]> {
    const pairs: SocketPair[] = [];
    for (let i = 0; i < n; i++) pairs.push(await this.connect(options));
    return pairs;
  }

  async close(): Promise<void> {
    for (const client of this.clients) client.terminate();
    for (const socket of this.wss.clients) socket.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

/** Resolves once the server side has seen the client's socket close. */
export async function closedOnServer(pair: SocketPair): Promise<void> {
  if (pair.server.readyState === WebSocket.CLOSED) return;
  await once(pair.server, 'close');
}

/** Waits until `predicate` holds, polling every 10 ms, or fails after `timeoutMs`. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Kills the client's TCP socket without a close frame, as a dead laptop or network would. */
export function destroyTcp(client: WebSocket): void {
  (client as unknown as { _socket: { destroy(): void } })._socket.destroy();
}
