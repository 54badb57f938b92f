import { afterEach, describe, expect, it } from 'vitest';
import { clientPool, record, scripted, session, sleep, statusIs, trackedSockets } from '../support/client-harness.js';
import { freePort } from '../support/redis.js';
import { waitFor } from '../support/socket-harness.js';
import { WebSocket, WebSocketServer } from 'ws';

// The client's state machine in Node with `ws`, against a scripted `ws` server that forces each
// close code, refusal and silence the protocol knows.

/** `ws` as a browser's WebSocket looks to a script: a failed handshake's error says nothing (no HTTP status). */
class BrowserLike extends WebSocket {
  constructor(url: string) {
    super(url);
    const accessor = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'onerror')!;
    Object.defineProperty(this, 'onerror', {
      get: () => accessor.get!.call(this),
      set: (listener: ((event: unknown) => void) | null) => {
        accessor.set!.call(this, listener && (() => listener({})));
      },
    });
  }
}
describe('client (Node, ws) against a scripted server', () => {
  const pool = clientPool();
  const open = pool.open.bind(pool);
  const cleanups = pool.cleanups;
  afterEach(() => pool.closeAll());
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

  it('a handshake that is never answered is given up (4000 HANDSHAKE_TIMEOUT) and retried, never two open', async () => {
    const server = await scripted((ws) => session(ws), { delayMs: 60_000 }); // accepts TCP, never answers the upgrade
    cleanups.push(server.close);
    const { Tracked, sockets, maxOpen } = trackedSockets();
    const client = open({ url: server.url, token: () => 't', context: 'c', WebSocket: Tracked, pongTimeoutMs: 200, baseMs: 10, capMs: 20 });
    const seen = record(client);
    await waitFor(() => seen.disconnect.length >= 3, 15_000, 'three given-up handshakes');
    expect(seen.disconnect.slice(0, 3).map((d) => [d.code, d.reason])).toEqual(Array(3).fill([4000, 'HANDSHAKE_TIMEOUT']));
    expect(client.status).toBe('reconnecting');
    expect(maxOpen()).toBeLessThanOrEqual(1);
    expect(sockets.slice(0, -1).every((s) => s.readyState === s.CLOSED || s.readyState === s.CLOSING)).toBe(true);
  });

  it('bad input: a relative URL throws at connect(); frames that are not JSON, lack an event, or a session without data are ignored (never emitted)', async () => {
    expect(() => open({ url: '/ws', token: () => 't' })).toThrow(TypeError);
    const server = await scripted((ws) => {
      ws.send('not json');
      ws.send(JSON.stringify({ event: 'session', data: null }));
      ws.send(JSON.stringify({ no: 'event' }));
      session(ws);
    });
    cleanups.push(server.close);
    const client = open({ url: server.url, token: () => 't', context: 'c' });
    const sessions: unknown[] = [];
    client.on('session', (s) => sessions.push(s));
    await statusIs(client, 'open');
    expect(sessions).toEqual([client.session]);
    expect(client.session).toMatchObject({ managerId: 'm1' });
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

  it('4029 waits retryAfterMs; with retryAfterMs null (nothing frees by itself) it waits half to all of capMs', async () => {
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
    const backs = open({ url: unknown.url, token: () => 't', context: 'd', random: () => 0.5, capMs: 1000 });
    const seen2 = record(backs);
    await statusIs(backs, 'open');
    expect(seen2.disconnect[0]).toMatchObject({ code: 4029, reconnectInMs: 750 }); // capMs × (0.5 + 0.5/2), not attempt 0's 250
  });

  it('HTTP 401 at the handshake: token asked twice, then unauthorized; HTTP 403: stops at once (refused)', async () => {
    const server = await scripted(() => undefined, { refuse: 401 });
    cleanups.push(server.close);
    let calls = 0;
    const client = open({ url: server.url, token: async () => (calls++, 't'), context: 'c' });
    const seen = record(client);
    await statusIs(client, 'closed');
    expect({ calls, upgrades: server.upgrades.length, unauthorized: seen.unauthorized }).toEqual({ calls: 2, upgrades: 2, unauthorized: [{ status: 401 }] });

    const forbidden = await scripted(() => undefined, { refuse: 403 });
    cleanups.push(forbidden.close);
    const refused = open({ url: forbidden.url, token: () => 't', context: 'c' });
    const seen2 = record(refused);
    await statusIs(refused, 'closed');
    expect(seen2.stopped).toEqual([{ reason: 'refused', code: 1006 }]); // the handshake's close code
    expect(forbidden.upgrades).toHaveLength(1);
  });

  for (const [first, expected] of [
    [1001, 'open'],
    [1006, 'closed'],
  ] as const) {
    it(`as a browser (no handshake status): a server that answers HTTP but refuses upgrades after close ${first} ${first === 1001 ? 'is restarting, not refusing' : 'is refusing: unauthorized'}`, async () => {
      // One server through three phases: a session that ends with `first`, then upgrades refused
      // with 503 while plain HTTP still answers (ws's 426, which the client's fetch sees), then sessions again.
      let phase: 'first' | 'refusing' | 'back' = 'first';
      let refused = 0;
      const wss = new WebSocketServer({
        host: '127.0.0.1',
        port: 0,
        verifyClient: (_info, done) => (phase === 'refusing' ? (refused++, done(false, 503)) : done(true)),
      });
      cleanups.push(() => new Promise((r) => (wss.clients.forEach((c) => c.terminate()), wss.close(r))));
      await new Promise((resolve) => wss.once('listening', resolve));
      wss.on('connection', (ws) => {
        session(ws);
        if (phase !== 'first') return;
        phase = 'refusing';
        setTimeout(() => (first === 1001 ? ws.close(1001, 'SERVER_SHUTDOWN') : ws.terminate()), 20);
      });
      const url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}/ws`;
      const client = open({ url, token: () => 't', context: 'c', WebSocket: BrowserLike, baseMs: 20, capMs: 50 });
      const seen = record(client);
      await waitFor(() => refused >= 3 || client.status === 'closed', 15_000, 'refused attempts');
      phase = 'back';
      await statusIs(client, expected);
      expect(seen.disconnect[0]).toMatchObject({ code: first });
      // After 1001 the refusals were taken for the restart; after 1006 two of them stop the client.
      expect({ refused: Math.min(refused, 3), unauthorized: seen.unauthorized }).toEqual(
        first === 1001 ? { refused: 3, unauthorized: [] } : { refused: 2, unauthorized: [{ status: null }] },
      );
    });
  }

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
    const server = await scripted((ws) => session(ws), { port });
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
