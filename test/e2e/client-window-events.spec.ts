import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { clientPool, scripted, session, sleep, statusIs, trackedSockets } from '../support/client-harness.js';

// The browser's window events (online/offline, visibilitychange), stubbed on globalThis (Node has
// none): the same code paths a page runs. The Chromium suite covers offline/online for real
// (client-browser.spec.ts).
describe('client window events (stubbed)', () => {
  const pool = clientPool();
  const open = pool.open.bind(pool);
  const cleanups = pool.cleanups;
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
  afterEach(async () => {
    vi.unstubAllGlobals();
    await pool.closeAll();
  });
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

  it('events while a slow handshake is pending never open a second socket', async () => {
    const server = await scripted((ws) => session(ws), { delayMs: 1500 });
    cleanups.push(server.close);
    const { Tracked, sockets, maxOpen } = trackedSockets();
    const client = open({ url: server.url, token: () => 't', context: 'c', WebSocket: Tracked, pingAfterMs: 10 });
    for (let i = 0; i < 5; i++) {
      fire('online');
      page.visibilityState = 'hidden';
      fire('visibilitychange');
      await sleep(30);
      page.visibilityState = 'visible';
      fire('visibilitychange');
    }
    await statusIs(client, 'open');
    expect({ upgrades: server.upgrades.length, sockets: sockets.length, maxOpen: maxOpen() }).toEqual({ upgrades: 1, sockets: 1, maxOpen: 1 });
  });
});
