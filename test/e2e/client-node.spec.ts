import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { clientPool, record, sleep, statusIs, trackedSockets } from '../support/client-harness.js';
import { startExampleApp, type RunningApp } from '../support/app-harness.js';
import { waitFor } from '../support/socket-harness.js';

// The client's state machine in Node with `ws`, against the real example app (the cases the
// server can produce; client-close-codes.spec.ts forces the others with a scripted server).
describe('client (Node, ws) against the example app', () => {
  const pool = clientPool();
  const open = pool.open.bind(pool);
  let running: RunningApp | undefined;
  afterEach(async () => {
    await pool.closeAll();
    await running?.close();
    running = undefined;
  });
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
    const seen = record(client);
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

  it('after join, a reconnect goes to the joined context', async () => {
    running = await startExampleApp();
    const tcp: Socket[] = [];
    (running.app.getHttpServer() as Server).on('upgrade', (_req, socket: Socket) => tcp.push(socket));
    const client = open<Record<string, unknown>, { join: { context: string } }>({ url: running.url({}), token: () => running!.token('joiner'), context: 'first' });
    await statusIs(client, 'open');
    client.send('join', { context: 'second' });
    await waitFor(() => client.session?.context === 'second', 10_000, 'joined');
    const joined = client.session!;
    tcp[0]!.destroy();
    await waitFor(() => tcp.length === 2 && client.status === 'open', 15_000, 'reconnected');
    expect(client.session).toMatchObject({ context: 'second', managerId: joined.managerId, resumed: true });
  });

  it('a listener that throws does not break the client', async () => {
    running = await startExampleApp();
    const client = open({ url: running.url({}), token: () => running!.token('thrower'), context: 'c' });
    const errors: unknown[] = [];
    const original = console.error;
    console.error = (error: unknown) => errors.push(error);
    try {
      client.on('session', () => {
        throw new Error('listener bug');
      });
      await statusIs(client, 'open');
      client.send('echo', 'still works');
      const echoed = await new Promise((resolve) => client.on('echo', resolve));
      expect(echoed).toBe('still works');
      expect(errors).toEqual([expect.objectContaining({ message: 'listener bug' })]);
    } finally {
      console.error = original;
    }
  });
});
