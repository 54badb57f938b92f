import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { connect, type ClientStatus, type LifecycleEvents, type WebSocketClient } from '../../src/client/index.js';
import { startExampleApp, type RunningApp } from '../support/app-harness.js';
import { freePort } from '../support/redis.js';
import { waitFor } from '../support/socket-harness.js';

// The client's state machine in Node with `ws`: against the real example app where the server
// can produce the case, against a scripted `ws` server where a close code must be forced.

/** A `ws` class that records, each time one of its sockets opens, how many of them are OPEN. */
function trackedSockets() {
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

type Recorded = { [K in keyof LifecycleEvents]: LifecycleEvents[K][] };

/** Records the lifecycle events of `client`. */
function record(client: WebSocketClient): Recorded {
  const seen: Recorded = { statuschange: [], disconnect: [], unauthorized: [], stopped: [] };
  for (const name of Object.keys(seen) as (keyof Recorded)[]) client.on(name, (data) => (seen[name] as unknown[]).push(data));
  return seen;
}

/** A scripted server: `onConnection(ws, n)` for the n-th accepted connection (0-based); `refuse` answers the upgrade with an HTTP status. */
async function scripted(onConnection: (ws: WebSocket, n: number, req: IncomingMessage) => void, refuse?: number, port = 0) {
  const upgrades: number[] = [];
  const frames: unknown[] = [];
  const connections: WebSocket[] = [];
  let n = 0;
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port,
    verifyClient: (_info, done) => (upgrades.push(Date.now()), refuse ? done(false, refuse) : done(true)),
  });
  await new Promise((resolve) => wss.once('listening', resolve));
  wss.on('connection', (ws, req) => {
    ws.on('message', (raw) => frames.push(JSON.parse(String(raw))));
    connections.push(ws);
    onConnection(ws, n++, req);
  });
  const address = wss.address() as { port: number };
  return { url: `ws://127.0.0.1:${address.port}/ws`, upgrades, frames, connections, close: () => new Promise((r) => (wss.clients.forEach((c) => c.terminate()), wss.close(r))) };
}

const session = (ws: WebSocket, context = 'ctx', managerId = 'm1') =>
  ws.send(JSON.stringify({ event: 'session', data: { managerId, context, resumed: false, limit: 20, active: 1, cleanup: null } }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('client (Node, ws)', () => {
  const clients: WebSocketClient[] = [];
  const cleanups: (() => unknown)[] = [];
  let running: RunningApp | undefined;
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    for (const cleanup of cleanups.splice(0)) await cleanup();
    await running?.close();
    running = undefined;
  });
  const open = <In extends Record<string, unknown> = Record<string, unknown>, Out extends Record<string, unknown> = Record<string, unknown>>(
    options: Parameters<typeof connect>[0],
  ) => {
    const client = connect<In, Out>({ WebSocket: WebSocket, ...options });
    clients.push(client as unknown as WebSocketClient);
    return client;
  };
  const statusIs = (client: { status: ClientStatus }, status: ClientStatus) => waitFor(() => client.status === status, 15_000, `status ${status}`);

  describe('against the example app', () => {
    it('gets its session, sends typed frames, receives the echo; close() detaches and never reconnects', async () => {
      running = await startExampleApp();
      let tokens = 0;
      const token = await running.token('node-sdk');
      const client = open<{ echo: string }, { echo: string }>({ url: running.url({}), token: () => (tokens++, token), context: 'main' });
      const echoes: string[] = [];
      client.on('echo', (data) => echoes.push(data));
      client.send('echo', 'queued before the session');
      await statusIs(client, 'open');
      client.send('echo', 'sent while open');
      await waitFor(() => echoes.length === 2, 10_000, 'two echoes');
      expect(echoes).toEqual(['queued before the session', 'sent while open']);
      expect(client.session).toMatchObject({ context: 'main', resumed: false });
      const seen = record(client as unknown as WebSocketClient);
      client.close();
      expect(client.status).toBe('closed');
      expect(seen.stopped).toEqual([{ reason: 'closed', code: null }]);
      await waitFor(async () => (await running!.registry.listByUser('node-sdk'))[0]?.detachedAt != null, 10_000, 'detached');
      await sleep(1000);
      expect(tokens).toBe(1);
      expect(() => client.send('echo', 'late')).toThrow(expect.objectContaining({ code: 'CLIENT_CLOSED' }));
    });

    it('connect() twice for one context (React Strict Mode): the first stops, never two sockets open, one manager', async () => {
      running = await startExampleApp();
      const { Tracked, sockets, maxOpen } = trackedSockets();
      const token = await running.token('strict');
      const first = open({ url: running.url({}), token: () => token, context: 'c', WebSocket: Tracked });
      const firstSeen = record(first);
      const second = open({ url: running.url({}), token: () => token, context: 'c', WebSocket: Tracked });
      await statusIs(second, 'open');
      expect(first.status).toBe('closed');
      expect(firstSeen.stopped).toEqual([{ reason: 'replaced', code: null }]);
      expect(sockets.length).toBeLessThanOrEqual(2);
      expect(maxOpen()).toBe(1);
      expect(await running.registry.countByUser('strict')).toBe(1);
    });

    it('the server destroys the TCP connection: reconnects with the context the server made, the same manager resumes', async () => {
      running = await startExampleApp();
      const tcp: Socket[] = [];
      (running.app.getHttpServer() as Server).on('upgrade', (_req, socket: Socket) => tcp.push(socket));
      const { Tracked, maxOpen } = trackedSockets();
      const client = open({ url: running.url({}), token: () => running!.token('tcp'), WebSocket: Tracked });
      await statusIs(client, 'open');
      const first = client.session!;
      const seen = record(client);
      tcp[0]!.destroy();
      await waitFor(() => client.status === 'open' && seen.disconnect.length === 1, 15_000, 'reconnected');
      expect(seen.disconnect[0]).toMatchObject({ code: 1006 });
      expect(seen.disconnect[0]!.reconnectInMs).toBeLessThanOrEqual(500);
      expect(client.session).toMatchObject({ managerId: first.managerId, context: first.context, resumed: true });
      expect(tcp).toHaveLength(2);
      expect(maxOpen()).toBe(1);
    });

    it('a bad token: asks the token function once more, then unauthorized (401) and stopped', async () => {
      running = await startExampleApp();
      let calls = 0;
      const client = open({ url: running.url({}), token: () => (calls++, 'not-a-jwt'), context: 'x' });
      const seen = record(client);
      await statusIs(client, 'closed');
      expect(calls).toBe(2);
      expect(seen.unauthorized).toEqual([{ status: 401 }]);
      expect(seen.stopped).toEqual([{ reason: 'unauthorized', code: null }]);
    });

    it('an expired token is refreshed: the second token gets in', async () => {
      running = await startExampleApp();
      const tokens = [await running.token('refresh', 0), await running.token('refresh')];
      const client = open({ url: running.url({}), token: () => tokens.shift()!, context: 'x' });
      await statusIs(client, 'open');
      expect(tokens).toEqual([]);
    });

    it('the app-level ping is answered and is not application activity', async () => {
      running = await startExampleApp();
      const raw = await running.connect('hb', 'raw');
      const manager = running.factory.get(raw.session.data.managerId)!;
      const before = manager.lastActivityAt;
      await sleep(20);
      raw.client.send('wsm:ping');
      expect(await raw.client.next()).toEqual({ event: 'wsm:pong' });
      expect(manager.lastActivityAt).toBe(before);

      const handshakes: number[] = [];
      (running.app.getHttpServer() as Server).on('upgrade', () => handshakes.push(1));
      const client = open({ url: running.url({}), token: () => running!.token('hb'), context: 'sdk', pingAfterMs: 50, pongTimeoutMs: 5000 });
      const seen = record(client);
      await statusIs(client, 'open');
      await sleep(1500); // dozens of pings, every one answered
      expect(seen.disconnect).toEqual([]);
      expect(handshakes).toHaveLength(1);
    });
  });

  describe('against a scripted server', () => {
    it('a connection that stops answering is declared dead (4000 PING_TIMEOUT) and replaced, never two open', async () => {
      const server = await scripted((ws) => session(ws)); // sends the session, then never answers
      cleanups.push(server.close);
      const { Tracked, maxOpen } = trackedSockets();
      const client = open({ url: server.url, token: () => 't', context: 'c', WebSocket: Tracked, pingAfterMs: 100, pongTimeoutMs: 300, baseMs: 10 });
      const seen = record(client);
      await waitFor(() => seen.disconnect.length >= 2, 15_000, 'two dead connections');
      expect(seen.disconnect[0]).toMatchObject({ code: 4000, reason: 'PING_TIMEOUT' });
      expect(server.frames).toContainEqual({ event: 'wsm:ping' });
      expect(maxOpen()).toBe(1);
    });

    for (const code of [1001, 1011, 1013, 1006]) {
      it(`close ${code}: reconnects with backoff`, async () => {
        const server = await scripted((ws, n) => {
          session(ws);
          if (n === 0) setTimeout(() => (code === 1006 ? ws.terminate() : ws.close(code, 'X')), 20);
        });
        cleanups.push(server.close);
        const client = open({ url: server.url, token: () => 't', context: 'c' });
        const seen = record(client);
        await waitFor(() => client.status === 'open' && seen.disconnect.length === 1, 15_000, 'reconnected');
        expect(seen.disconnect[0]).toMatchObject({ code });
        expect(seen.disconnect[0]!.reconnectInMs).toBeLessThanOrEqual(500);
        expect(server.upgrades).toHaveLength(2);
      });
    }

    for (const [code, reason, option] of [
      [4001, 'evicted', 'reconnectOnEvicted'],
      [4002, 'superseded', 'reconnectOnSuperseded'],
    ] as const) {
      it(`close ${code}: stops (${reason}) by default, reconnects with ${option}`, async () => {
        const server = await scripted((ws, n) => {
          session(ws);
          if (n === 0) {
            if (code === 4001) ws.send(JSON.stringify({ event: 'evicted', data: { level: 'force', reason: 'healthy' } }));
            setTimeout(() => ws.close(code, reason.toUpperCase()), 20);
          }
        });
        cleanups.push(server.close);
        const stays = open({ url: server.url, token: () => 't', context: 'a' });
        const evicted: unknown[] = [];
        stays.on('evicted', (data) => evicted.push(data));
        const seen = record(stays);
        await statusIs(stays, 'closed');
        expect(seen.stopped).toEqual([{ reason, code }]);
        expect(seen.disconnect).toEqual([{ code, reason: reason.toUpperCase(), reconnectInMs: null }]);
        expect(evicted).toEqual(code === 4001 ? [{ level: 'force', reason: 'healthy' }] : []);
        await sleep(800);
        expect(server.upgrades).toHaveLength(1);

        const server2 = await scripted((ws, n) => {
          session(ws);
          if (n === 0) setTimeout(() => ws.close(code, reason.toUpperCase()), 20);
        });
        cleanups.push(server2.close);
        const retries = open({ url: server2.url, token: () => 't', context: 'b', [option]: true });
        const seen2 = record(retries);
        await waitFor(() => retries.status === 'open' && seen2.disconnect.length === 1, 15_000, 'reconnected');
        expect(server2.upgrades).toHaveLength(2);
      });
    }

    it('4029 waits retryAfterMs; with retryAfterMs null it backs off instead', async () => {
      const limited = (retryAfterMs: number | null) =>
        scripted((ws, n) => {
          if (n > 0) return session(ws);
          ws.send(JSON.stringify({ event: 'error', data: { code: 'MANAGER_LIMIT_REACHED', limit: 1, active: 1, retryAfterMs, reason: 'x' } }));
          ws.close(4029, 'MANAGER_LIMIT_REACHED');
        });
      const server = await limited(1500);
      cleanups.push(server.close);
      const client = open({ url: server.url, token: () => 't', context: 'c' });
      const seen = record(client);
      await statusIs(client, 'open');
      expect(seen.disconnect[0]!.reconnectInMs).toBeGreaterThanOrEqual(1500);
      expect(server.upgrades).toHaveLength(2);
      expect(server.upgrades[1]! - server.upgrades[0]!).toBeGreaterThanOrEqual(1500);

      const unknown = await limited(null);
      cleanups.push(unknown.close);
      const backs = open({ url: unknown.url, token: () => 't', context: 'd', random: () => 0.5 });
      const seen2 = record(backs);
      await statusIs(backs, 'open');
      expect(seen2.disconnect[0]).toMatchObject({ code: 4029, reconnectInMs: 250 }); // attempt 0: half of baseMs
    });

    it('HTTP 401 at the handshake: token asked twice, then unauthorized; HTTP 403: stops at once (refused)', async () => {
      const server = await scripted(() => undefined, 401);
      cleanups.push(server.close);
      let calls = 0;
      const client = open({ url: server.url, token: async () => (calls++, 't'), context: 'c' });
      const seen = record(client);
      await statusIs(client, 'closed');
      expect({ calls, upgrades: server.upgrades.length, unauthorized: seen.unauthorized }).toEqual({ calls: 2, upgrades: 2, unauthorized: [{ status: 401 }] });

      const forbidden = await scripted(() => undefined, 403);
      cleanups.push(forbidden.close);
      const refused = open({ url: forbidden.url, token: () => 't', context: 'c' });
      const seen2 = record(refused);
      await statusIs(refused, 'closed');
      expect(seen2.stopped).toEqual([{ reason: 'refused', code: 1006 }]); // the handshake's close code
      expect(forbidden.upgrades).toHaveLength(1);
    });

    it('a token function that throws stops the client with unauthorized, without a socket', async () => {
      const { Tracked, sockets } = trackedSockets();
      const client = open({ url: 'ws://127.0.0.1:9/ws', token: () => Promise.reject(new Error('logged out')), WebSocket: Tracked });
      const seen = record(client);
      await statusIs(client, 'closed');
      expect(seen.unauthorized).toEqual([{ status: null }]);
      expect(sockets).toHaveLength(0);
    });

    it('the send queue is bounded (SEND_QUEUE_FULL) and what it kept is delivered in order once a session opens', async () => {
      const port = await freePort();
      const client = open({ url: `ws://127.0.0.1:${port}/ws`, token: () => 't', context: 'c', maxQueue: 3, baseMs: 50, capMs: 200 });
      for (const n of [1, 2, 3]) client.send('n', n);
      expect(() => client.send('n', 4)).toThrow(expect.objectContaining({ name: 'WebSocketClientError', code: 'SEND_QUEUE_FULL' }));
      await waitFor(() => client.status === 'reconnecting', 10_000, 'server down');
      const server = await scripted((ws) => session(ws), undefined, port);
      cleanups.push(server.close);
      await statusIs(client, 'open');
      await waitFor(() => server.frames.length === 3, 10_000, 'queued frames');
      expect(server.frames).toEqual([1, 2, 3].map((n) => ({ event: 'n', data: n })));
    });

    it('close() during the reconnect wait: no further attempt', async () => {
      const server = await scripted((ws) => (session(ws), setTimeout(() => ws.close(1011), 20)));
      cleanups.push(server.close);
      const client = open({ url: server.url, token: () => 't', context: 'c', baseMs: 2000, random: () => 0.99 });
      await waitFor(() => client.status === 'reconnecting', 10_000, 'dropped');
      client.close();
      await sleep(2500);
      expect(server.upgrades).toHaveLength(1);
      expect(client.status).toBe('closed');
    });

    it('backoff grows across sessions that do not last, and starts over after a stable period', async () => {
      const delaysFor = async (holdMs: number) => {
        const server = await scripted((ws) => (session(ws), setTimeout(() => ws.close(1011), holdMs)));
        cleanups.push(server.close);
        const client = open({ url: server.url, token: () => 't', context: 'c', baseMs: 20, capMs: 200, stableAfterMs: 100, random: () => 0.999 });
        const seen = record(client);
        await waitFor(() => seen.disconnect.length >= 6, 30_000, 'six drops');
        client.close();
        return seen.disconnect.slice(0, 6).map((d) => d.reconnectInMs);
      };
      expect(await delaysFor(10)).toEqual([19, 39, 79, 159, 199, 199]);
      expect(await delaysFor(300)).toEqual([19, 19, 19, 19, 19, 19]);
    });
  });

  // The browser's window events, stubbed on globalThis (Node has none): the same code paths a page
  // runs. The Chromium suite covers offline/online for real (client-browser.spec.ts).
  describe('window events (stubbed)', () => {
    let handlers: Map<string, ((event: { type: string }) => void)[]>;
    const page = { onLine: true, visibilityState: 'visible' };
    beforeEach(() => {
      handlers = new Map();
      page.onLine = true;
      page.visibilityState = 'visible';
      vi.stubGlobal('addEventListener', (type: string, fn: (event: { type: string }) => void) => handlers.set(type, [...(handlers.get(type) ?? []), fn]));
      vi.stubGlobal('removeEventListener', (type: string, fn: unknown) => handlers.set(type, (handlers.get(type) ?? []).filter((f) => f !== fn)));
      vi.stubGlobal('navigator', { get onLine() { return page.onLine; } });
      vi.stubGlobal('document', { get visibilityState() { return page.visibilityState; } });
    });
    afterEach(() => vi.unstubAllGlobals());
    const fire = (type: string) => handlers.get(type)?.forEach((fn) => fn({ type }));
    it('offline: no attempt at all; online: reconnects at once', async () => {
      const server = await scripted((ws) => session(ws));
      cleanups.push(server.close);
      const client = open({ url: server.url, token: () => 't', context: 'c', baseMs: 10, capMs: 20 });
      await statusIs(client, 'open');
      page.onLine = false;
      fire('offline');
      server.connections[0]!.close(1011);
      await statusIs(client, 'reconnecting');
      await sleep(1000); // backoff alone would have tried dozens of times
      expect(server.upgrades).toHaveLength(1);
      page.onLine = true;
      fire('online');
      await statusIs(client, 'open');
      expect(server.upgrades).toHaveLength(2);
    });

    it('a tab visible again after a long sleep reconnects at once; a short glance away changes nothing', async () => {
      const server = await scripted((ws) => session(ws));
      cleanups.push(server.close);
      const client = open({ url: server.url, token: () => 't', context: 'c', baseMs: 120_000, random: () => 0.99, pingAfterMs: 300 });
      await statusIs(client, 'open');
      server.connections[0]!.close(1011);
      await statusIs(client, 'reconnecting'); // the next attempt is about two minutes away
      page.visibilityState = 'hidden';
      fire('visibilitychange');
      page.visibilityState = 'visible';
      fire('visibilitychange'); // back within pingAfterMs: a glance
      await sleep(500);
      expect(server.upgrades).toHaveLength(1);
      page.visibilityState = 'hidden';
      fire('visibilitychange');
      await sleep(400); // longer than pingAfterMs
      page.visibilityState = 'visible';
      fire('visibilitychange');
      await statusIs(client, 'open');
      expect(server.upgrades).toHaveLength(2);
    });

    it("online does not cut 4029's wait short", async () => {
      const server = await scripted((ws, n) => {
        if (n > 0) return session(ws);
        ws.send(JSON.stringify({ event: 'error', data: { code: 'MANAGER_LIMIT_REACHED', limit: 1, active: 1, retryAfterMs: 2000 } }));
        ws.close(4029, 'MANAGER_LIMIT_REACHED');
      });
      cleanups.push(server.close);
      const client = open({ url: server.url, token: () => 't', context: 'c' });
      await statusIs(client, 'reconnecting');
      fire('online');
      await sleep(500);
      expect(server.upgrades).toHaveLength(1);
      await statusIs(client, 'open');
      expect(server.upgrades[1]! - server.upgrades[0]!).toBeGreaterThanOrEqual(2000);
    });
  });
});
