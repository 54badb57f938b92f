import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { connect, type ClientStatus, type ConnectOptions, type LifecycleEvents, type WebSocketClient } from '../../src/client/index.js';
import { waitFor } from './socket-harness.js';

// Helpers of the client suites (test/e2e/client-*.spec.ts): real `ws` sockets, scripted servers.

/** See {@link trackedSockets}. */
export interface TrackedSockets {
  Tracked: new (url: string) => WebSocket;
  sockets: WebSocket[];
  /** The most sockets OPEN at the moment one of them opened. */
  maxOpen(): number;
}

/** A `ws` class that records, each time one of its sockets opens, how many of them are OPEN. */
export function trackedSockets(): TrackedSockets {
  const sockets: WebSocket[] = [];
  const openAtOnce: number[] = [];
  class Tracked extends WebSocket {
    constructor(url: string) {
      super(url);
      sockets.push(this);
      this.on('open', () => openAtOnce.push(sockets.filter((s) => s.readyState === WebSocket.OPEN).length));
    }
  }
  return { Tracked, sockets, maxOpen: () => Math.max(0, ...openAtOnce) };
}

export type Recorded = { [K in keyof LifecycleEvents]: LifecycleEvents[K][] };

/** Records the lifecycle events of `client`. */
export function record<In extends object, Out extends object>(client: WebSocketClient<In, Out>): Recorded {
  const seen: Recorded = { statuschange: [], disconnect: [], unauthorized: [], stopped: [] };
  const on = client.on.bind(client) as unknown as (name: string, fn: (data: unknown) => void) => void;
  for (const name of Object.keys(seen) as (keyof Recorded)[]) on(name, (data) => (seen[name] as unknown[]).push(data));
  return seen;
}

/** How a {@link scripted} server answers upgrades. */
export interface ScriptedOptions {
  /** Answer every upgrade with this HTTP status instead of accepting it. */
  refuse?: number;
  /** Listen here (0: any free port). */
  port?: number;
  /** Hold each upgrade this long before answering (a slow server). */
  delayMs?: number;
}

/** A scripted server: `onConnection(ws, n)` for the n-th accepted connection (0-based). */
export async function scripted(onConnection: (ws: WebSocket, n: number, req: IncomingMessage) => void, { refuse, port = 0, delayMs = 0 }: ScriptedOptions = {}) {
  const upgrades: number[] = [];
  const frames: unknown[] = [];
  const connections: WebSocket[] = [];
  const timers: ReturnType<typeof setTimeout>[] = [];
  const pending = new Set<Socket>(); // upgrades still held by delayMs
  let n = 0;
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port,
    verifyClient: (info, done) => {
      upgrades.push(Date.now());
      pending.add(info.req.socket);
      const timer = setTimeout(() => (pending.delete(info.req.socket), refuse ? done(false, refuse) : done(true)), delayMs);
      timers.push(timer);
    },
  });
  await new Promise((resolve) => wss.once('listening', resolve));
  wss.on('connection', (ws, req) => {
    ws.on('message', (raw) => frames.push(JSON.parse(String(raw))));
    connections.push(ws);
    onConnection(ws, n++, req);
  });
  const address = wss.address() as { port: number };
  return { url: `ws://127.0.0.1:${address.port}/ws`, upgrades, frames, connections, close: () =>
      new Promise((r) => {
        timers.forEach(clearTimeout);
        pending.forEach((socket) => socket.destroy());
        wss.clients.forEach((c) => c.terminate());
        wss.close(r);
      }),
  };
}

export const session = (ws: WebSocket, context = 'ctx', managerId = 'm1') =>
  ws.send(JSON.stringify({ event: 'session', data: { managerId, context, resumed: false, limit: 20, active: 1, cleanup: null } }));
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Clients made with `ws`'s WebSocket, all closed by `closeAll()` (call it in afterEach). */
export function clientPool() {
  const clients: WebSocketClient[] = [];
  const cleanups: (() => unknown)[] = [];
  return {
    /** Things to undo after the test (servers to close). */
    cleanups,
    open<In extends object = Record<string, unknown>, Out extends object = Record<string, unknown>>(options: ConnectOptions): WebSocketClient<In, Out> {
      const client = connect<In, Out>({ WebSocket, ...options });
      clients.push(client as unknown as WebSocketClient);
      return client;
    },
    async closeAll(): Promise<void> {
      for (const client of clients.splice(0)) client.close();
      for (const cleanup of cleanups.splice(0)) await cleanup();
    },
  };
}

/** Waits (generously) until `client.status` is `status`. */
export const statusIs = (client: { status: ClientStatus }, status: ClientStatus) => waitFor(() => client.status === status, 15_000, `status ${status}`);
