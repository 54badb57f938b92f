import { Logger } from '@nestjs/common';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startExampleApp, type RunningApp } from '../support/app-harness.js';
import { waitFor } from '../support/socket-harness.js';

describe('WebSocketManagerGateway protocol', () => {
  let running: RunningApp | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it('sends session first, with the manager, context, limit, active count and no cleanup', async () => {
    running = await startExampleApp();
    const { session } = await running.connect('u1', 'chat-1');
    expect(session).toEqual({
      event: 'session',
      data: { managerId: expect.any(String), context: 'chat-1', resumed: false, limit: 20, active: 1, cleanup: null },
    });
    const fresh = await running.connect('u1');
    expect(fresh.session.data.context).toMatch(/^[A-Za-z0-9._:-]{1,64}$/);
    expect(fresh.session.data.active).toBe(2);
  });

  it('echoes and answers malformed frames with BAD_MESSAGE without closing', async () => {
    running = await startExampleApp();
    const { client } = await running.connect('u1', 'main');
    client.ws.send('this is not json');
    expect(await client.next()).toEqual({ event: 'error', data: { code: 'BAD_MESSAGE' } });
    client.ws.send(JSON.stringify({ data: 1 }));
    expect(await client.next()).toEqual({ event: 'error', data: { code: 'BAD_MESSAGE' } });
    client.ws.send(JSON.stringify({ event: 42 }));
    expect(await client.next()).toEqual({ event: 'error', data: { code: 'BAD_MESSAGE' } });
    client.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect(await client.next()).toEqual({ event: 'error', data: { code: 'BAD_MESSAGE' } });
    client.send('echo', { hello: ['world', 1] });
    expect(await client.next()).toEqual({ event: 'echo', data: { hello: ['world', 1] } });
  });

  it('closes a frame over WS_MAX_PAYLOAD_BYTES with 1009', async () => {
    running = await startExampleApp({ WS_MAX_PAYLOAD_BYTES: '1024' });
    const { client } = await running.connect('u1', 'main');
    client.send('echo', 'x'.repeat(2000));
    expect((await client.closed).code).toBe(1009);
  });

  it('logs the socket errors clients cause at will once a minute, not once per connection', async () => {
    const errors = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const warnings = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      running = await startExampleApp({ WS_MAX_PAYLOAD_BYTES: '1024' });
      for (let i = 0; i < 6; i++) {
        const { client } = await running.connect(`u${i}`, 'main');
        // Over the payload limit (1009), then text that is not UTF-8 (1007): ws closes the socket either way.
        if (i % 2 === 0) client.send('echo', 'x'.repeat(2000));
        else client.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
        expect((await client.closed).code).toBe(i % 2 === 0 ? 1009 : 1007);
      }
      const lines = [...errors.mock.calls, ...warnings.mock.calls].map((c) => String(c[0]));
      expect(lines.filter((l) => /payload|UTF-8/i.test(l))).toEqual([expect.stringMatching(/^socket error: Max payload size exceeded$/)]);
    } finally {
      vi.restoreAllMocks();
    }
  });

  it('re-attaches a reconnect to the same context and replays what was buffered, in order', async () => {
    running = await startExampleApp();
    const first = await running.connect('u1', 'thread-7');
    await running.connect('u1', 'other');
    first.client.ws.close();
    await first.client.closed;
    const manager = running.factory.get(first.session.data.managerId)!;
    await waitFor(() => !manager.isConnected, 2000, 'detach');
    for (let i = 0; i < 3; i++) manager.send('note', { i });

    const again = await running.connect('u1', 'thread-7');
    expect(again.session.data).toMatchObject({ managerId: first.session.data.managerId, resumed: true, active: 2 });
    expect([await again.client.next(), await again.client.next(), await again.client.next()]).toEqual([0, 1, 2].map((i) => ({ event: 'note', data: { i } })));
    expect(await running.registry.countByUser('u1')).toBe(2);
  });

  it('supersedes the oldest connection of a context with 4002 beyond WS_MAX_CONNECTIONS_PER_MANAGER', async () => {
    running = await startExampleApp({ WS_MAX_CONNECTIONS_PER_MANAGER: '2' });
    const a = await running.connect('u1', 'tab');
    const b = await running.connect('u1', 'tab');
    const c = await running.connect('u1', 'tab');
    expect(await a.client.closed).toEqual({ code: 4002, reason: 'SUPERSEDED' });
    expect(b.session.data.managerId).toBe(a.session.data.managerId);
    expect(c.session.data).toMatchObject({ managerId: a.session.data.managerId, resumed: true, active: 1 });
    b.client.send('echo', 'still here');
    expect((await b.client.next('echo')).data).toBe('still here');
  });

  it('refuses a session beyond the limit with MANAGER_LIMIT_REACHED and close 4029', async () => {
    running = await startExampleApp({ WS_MAX_MANAGERS_PER_USER: '3', WS_MAX_CLEANUP_LEVEL: 'aggressive' });
    for (const c of ['a', 'b', 'c']) await running.connect('u1', c);
    const { client, session } = await running.connect('u1', 'd');
    expect(session).toEqual({
      event: 'error',
      data: { code: 'MANAGER_LIMIT_REACHED', limit: 3, active: 3, retryAfterMs: null, reason: 'sessions_in_use' },
    });
    expect(await client.closed).toEqual({ code: 4029, reason: 'MANAGER_LIMIT_REACHED' });
    expect(await running.registry.countByUser('u1')).toBe(3);
  });

  it('evicts with an evicted event and close 4001 when force is allowed', async () => {
    running = await startExampleApp({ WS_MAX_MANAGERS_PER_USER: '2', WS_MAX_CLEANUP_LEVEL: 'force' });
    const oldest = await running.connect('u1', 'a');
    const newer = await running.connect('u1', 'b');
    newer.client.send('echo', 1); // activity: `a` is now the least recently active
    await newer.client.next('echo');
    const third = await running.connect('u1', 'c');
    expect(third.session.event).toBe('session');
    expect(third.session.data.cleanup).toMatchObject({ removed: 1, levels: expect.arrayContaining([expect.objectContaining({ level: 'force', removed: 1 })]) });
    expect(await oldest.client.next('evicted')).toEqual({ event: 'evicted', data: { level: 'force', reason: 'forced' } });
    expect(await oldest.client.closed).toEqual({ code: 4001, reason: 'EVICTED' });
    expect(newer.client.ws.readyState).toBe(newer.client.ws.OPEN);
  });

  it('moves a connection with join, and refuses a join at the limit while staying connected', async () => {
    running = await startExampleApp({ WS_MAX_MANAGERS_PER_USER: '2', WS_MAX_CLEANUP_LEVEL: 'moderate' });
    const { client, session } = await running.connect('u1', 'first');
    client.send('join', { context: 'second' });
    const joined = await client.next('joined');
    expect(joined.data).toMatchObject({ context: 'second', resumed: false, limit: 2, active: 2, cleanup: null });
    expect(joined.data.managerId).not.toBe(session.data.managerId);

    client.send('join', { context: 'third' });
    // 'first' is detached (this socket left it): its resume window ending is what frees a slot.
    const refusal = await client.next('error');
    expect(refusal).toEqual({
      event: 'error',
      data: { code: 'MANAGER_LIMIT_REACHED', limit: 2, active: 2, retryAfterMs: expect.any(Number), reason: 'resume_window_expiry' },
    });
    expect(refusal.data.retryAfterMs).toBeGreaterThan(100_000);
    client.send('status');
    expect((await client.next('status')).data).toMatchObject({ context: 'second', managerId: joined.data.managerId });
    client.send('join', { context: 'first' });
    expect((await client.next('joined')).data).toMatchObject({ managerId: session.data.managerId, resumed: true });
    client.send('join', { context: 'bad context!' });
    expect(await client.next('error')).toEqual({ event: 'error', data: { code: 'INVALID_CONTEXT' } });
    client.send('echo', 'ok');
    expect((await client.next('echo')).data).toBe('ok');
  });

  it('join at the limit succeeds through the interceptor when cleanup can free a slot', async () => {
    running = await startExampleApp({ WS_MAX_MANAGERS_PER_USER: '2', WS_MAX_CLEANUP_LEVEL: 'aggressive' });
    const gone = await running.connect('u1', 'gone');
    gone.client.ws.close();
    await gone.client.closed;
    const { client } = await running.connect('u1', 'here');
    client.send('join', { context: 'there' });
    const joined = await client.next('joined');
    expect(joined.data.cleanup).toMatchObject({ trigger: 'emergency', removed: 1 });
    expect(await running.registry.countByUser('u1')).toBe(2);
  });

  it('keeps two users apart: one at its limit never affects the other', async () => {
    running = await startExampleApp({ WS_MAX_MANAGERS_PER_USER: '2', WS_MAX_CLEANUP_LEVEL: 'force' });
    const bob = await running.connect('bob', 'main');
    await running.connect('alice', 'a');
    await running.connect('alice', 'b');
    await running.connect('alice', 'c'); // evicts one of alice's own
    const shared = await running.connect('bob', 'a');
    expect(shared.session.data).toMatchObject({ resumed: false, active: 2 });
    expect(bob.client.ws.readyState).toBe(bob.client.ws.OPEN);
    expect(await running.registry.countByUser('alice')).toBe(2);
    expect(await running.registry.countByUser('bob')).toBe(2);
  });

  it('a reconnect storm of one user on one context ends with one manager', async () => {
    running = await startExampleApp();
    const ids = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const { client, session } = await running.connect('refresher', 'page');
      ids.add(session.data.managerId);
      client.ws.terminate(); // a refresh: the old page never says goodbye
    }
    const parallel = await Promise.all(Array.from({ length: 20 }, () => running!.connect('refresher', 'page')));
    for (const p of parallel) ids.add(p.session.data.managerId);
    expect(ids.size).toBe(1);
    expect(await running.registry.countByUser('refresher')).toBe(1);
  });
});
