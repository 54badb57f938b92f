import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RegistryEventsService } from '../../src/index.js';
import { RedisManagerRegistry } from '../../src/redis.js';
import { WebSocket } from 'ws';
import { startExampleApp, TEST_SECRET, TestClient, type RunningApp } from '../support/app-harness.js';
import { deleteKeys, REDIS_URL, RedisServerProcess, requireRedis, uniquePrefix } from '../support/redis.js';
import { waitFor } from '../support/socket-harness.js';

const MAIN = fileURLToPath(new URL('../../dist/example/main.js', import.meta.url));

describe('cluster mode (WS_REGISTRY=redis, real Redis, real app instances)', () => {
  let prefix: string;
  const apps: RunningApp[] = [];
  const processes: ChildProcess[] = [];

  beforeAll(() => requireRedis());
  afterEach(async () => {
    for (const child of processes.splice(0)) child.kill('SIGKILL');
    for (const app of apps.splice(0)) await app.close();
    await deleteKeys(prefix);
  });

  async function instance(nodeId: string, env: Record<string, string> = {}): Promise<RunningApp> {
    const app = await startExampleApp({ WS_REGISTRY: 'redis', WS_REDIS_KEY_PREFIX: prefix, WS_NODE_ID: nodeId, ...env });
    apps.push(app);
    return app;
  }

  it('holds the per-user limit under a connect storm spread over two instances', async () => {
    prefix = uniquePrefix();
    const env = { WS_MAX_MANAGERS_PER_USER: '20', WS_MAX_CLEANUP_LEVEL: 'moderate' };
    const [a, b] = [await instance('node-a', env), await instance('node-b', env)];
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).connect('storm-user', `tab-${i}`)));
    const admitted = results.filter((r) => r.session.event === 'session');
    const refused = results.filter((r) => r.session.event === 'error');
    expect(admitted).toHaveLength(20);
    expect(refused).toHaveLength(40);
    for (const r of refused) expect((await r.client.closed).code).toBe(4029);
    expect(await a.registry.countByUser('storm-user')).toBe(20);
    expect(await b.registry.countByUser('storm-user')).toBe(20);
    expect(a.factory.listLocal('storm-user').length + b.factory.listLocal('storm-user').length).toBe(20);
  });

  it('lets a user back in within the lease TTL after the instance holding 10 sessions is killed -9', async () => {
    prefix = uniquePrefix();
    const env = { WS_MAX_MANAGERS_PER_USER: '10', WS_LEASE_TTL_MS: '2000' };
    const victim = spawn(process.execPath, [MAIN], {
      env: { ...process.env, ...env, PORT: '0', WS_REGISTRY: 'redis', WS_REDIS_KEY_PREFIX: prefix, WS_NODE_ID: 'victim', WS_JWT_SECRET: TEST_SECRET, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    processes.push(victim);
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      victim.stdout!.on('data', (chunk: Buffer) => {
        out += String(chunk);
        const match = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
        if (match) resolve(Number(match[1]));
      });
      victim.once('exit', (code) => reject(new Error(`victim exited ${code}: ${out}`)));
    });
    const survivor = await instance('survivor', { ...env, WS_CLEANUP_CRON: '* * * * * *' });
    const token = await survivor.token('u1');
    const held: TestClient[] = [];
    for (let i = 0; i < 10; i++) {
      const client = new TestClient(new WebSocket(`ws://127.0.0.1:${port}/ws?token=${token}&context=v${i}`));
      expect((await client.next()).event).toBe('session');
      held.push(client);
    }
    expect(await survivor.registry.countByUser('u1')).toBe(10);

    victim.kill('SIGKILL');
    const killedAt = Date.now();
    const early = await survivor.connect('u1', 'early');
    expect(early.session.data.code).toBe('MANAGER_LIMIT_REACHED'); // the lease is still alive
    // Once the victim has missed a renewal, the refusal says when its sessions stop counting.
    let hint: { code?: string; retryAfterMs: number; reason: string } | undefined;
    await waitFor(async () => {
      const attempt = await survivor.connect('u1', 'hint');
      hint = attempt.session.data;
      return attempt.session.event === 'session' || hint!.reason === 'lease_expiry';
    }, 8000, 'a refusal naming the lease expiry');
    expect(hint).toMatchObject({ code: 'MANAGER_LIMIT_REACHED', reason: 'lease_expiry' });
    expect(hint!.retryAfterMs).toBeLessThanOrEqual(2000 + 700); // what is left of the lease + one tick
    let admittedAt = 0;
    await waitFor(async () => {
      const attempt = await survivor.connect('u1', 'back');
      if (attempt.session.event !== 'session') return false;
      admittedAt = Date.now();
      return true;
    }, 8000, 'admission after the lease expired');
    expect(admittedAt - killedAt).toBeLessThan(2000 + 1000 + 2000); // lease TTL + one sweep + slack
    for (let i = 1; i < 10; i++) expect((await survivor.connect('u1', `new-${i}`)).session.event).toBe('session');
    expect(await survivor.registry.countByUser('u1')).toBe(10);
  });

  it('gives up its lease on a graceful stop, so its entries stop counting at once', async () => {
    prefix = uniquePrefix();
    const [a, b] = [await instance('node-a'), await instance('node-b', { WS_LEASE_TTL_MS: '60000' })];
    await b.connect('u1', 'on-b');
    expect(await a.registry.countByUser('u1')).toBe(1);
    await b.close();
    apps.splice(apps.indexOf(b), 1);
    expect(await a.registry.countByUser('u1')).toBe(0);
  });

  it('evicts a manager held by another instance, freeing exactly one slot per eviction', async () => {
    prefix = uniquePrefix();
    const a = await instance('node-a', { WS_MAX_MANAGERS_PER_USER: '3', WS_MAX_CLEANUP_LEVEL: 'force' });
    const b = await instance('node-b', { WS_MAX_MANAGERS_PER_USER: '3' });
    const onB = [await b.connect('u1', 'b0'), await b.connect('u1', 'b1'), await b.connect('u1', 'b2')];
    for (const [i, expected] of [[1, 2], [2, 1]] as const) {
      const fresh = await a.connect('u1', `a${i}`);
      expect(fresh.session.event).toBe('session');
      expect(fresh.session.data.cleanup).toMatchObject({ removed: 1 });
      await waitFor(() => onB.filter((s) => s.client.ws.readyState === s.client.ws.OPEN).length === expected, 3000, 'remote close');
      expect(await a.registry.countByUser('u1')).toBe(3);
    }
    const evicted = onB.filter((s) => s.client.ws.readyState !== s.client.ws.OPEN);
    for (const s of evicted) {
      expect(await s.client.next('evicted')).toMatchObject({ data: { level: 'force' } });
      expect(await s.client.closed).toEqual({ code: 4001, reason: 'EVICTED' });
    }
    expect(b.factory.listLocal('u1')).toHaveLength(1);
  });

  it('moves a context to the instance the client reconnects to: the old holder closes it with 4002', async () => {
    prefix = uniquePrefix();
    const [a, b] = [await instance('node-a'), await instance('node-b')];
    const first = await a.connect('u1', 'thread');
    const moved = await b.connect('u1', 'thread');
    expect(moved.session.data).toMatchObject({ context: 'thread', resumed: false, active: 1 });
    expect(await first.client.closed).toEqual({ code: 4002, reason: 'SUPERSEDED' });
    await waitFor(() => a.factory.listLocal('u1').length === 0, 3000, 'old holder drops it');
    // Detached on B, then back on A: the same, with no socket left to close.
    moved.client.ws.close();
    await moved.client.closed;
    const back = await a.connect('u1', 'thread');
    expect(back.session.data).toMatchObject({ resumed: false, active: 1 });
    await waitFor(() => b.factory.listLocal('u1').length === 0, 3000, 'B drops its detached manager');
    expect(await a.registry.countByUser('u1')).toBe(1);
  });

  it('judges a manager held elsewhere by the activity its owner reports, never evicting an active session as idle', async () => {
    prefix = uniquePrefix();
    // Without reported activity both of B's managers would look idle since creation, and the
    // older one (the active one) would be evicted first.
    const thresholds = { WS_IDLE_THRESHOLD_MS: '300', WS_INACTIVE_THRESHOLD_MS: '60000', WS_MAX_MANAGERS_PER_USER: '2', WS_MAX_CLEANUP_LEVEL: 'aggressive' };
    const a = await instance('node-a', thresholds);
    const b = await instance('node-b', { ...thresholds, WS_CLEANUP_CRON: '* * * * * *' });
    const active = await b.connect('u1', 'active');
    const silent = await b.connect('u1', 'silent');
    const chatter = setInterval(() => active.client.send('echo', 'typing'), 100);
    try {
      await new Promise((r) => setTimeout(r, 2200)); // past the idle threshold, two of B's sweeps
      const fresh = await a.connect('u1', 'from-a');
      expect(fresh.session.event).toBe('session');
      expect(fresh.session.data.cleanup).toMatchObject({ removed: 1, levels: expect.arrayContaining([expect.objectContaining({ level: 'aggressive', reasons: { idle_threshold: 1 } })]) });
      expect(await silent.client.closed).toEqual({ code: 4001, reason: 'EVICTED' });
      expect(active.client.ws.readyState).toBe(active.client.ws.OPEN);
    } finally {
      clearInterval(chatter);
    }
  });

  describe('Redis outage', () => {
    let server: RedisServerProcess;
    beforeAll(async () => {
      server = await RedisServerProcess.start();
    });
    afterAll(() => server.kill());

    it('refuses new sessions with 1013 while Redis is down, keeps open ones, and re-registers after', async () => {
      prefix = uniquePrefix();
      const app = await startExampleApp({ WS_REGISTRY: 'redis', WS_REDIS_URL: server.url, WS_REDIS_KEY_PREFIX: prefix, WS_NODE_ID: 'solo' });
      apps.push(app);
      const open = [await app.connect('u1', 'one'), await app.connect('u1', 'two')];
      await server.kill();

      const refused = await app.open('u1', 'three');
      expect(await refused.closed).toEqual({ code: 1013, reason: 'REGISTRY_UNAVAILABLE' });
      open[0]!.client.send('echo', 'still working');
      expect((await open[0]!.client.next('echo')).data).toBe('still working');
      const health = () => fetch(`http://127.0.0.1:${app.port}/health`).then((r) => r.status);
      expect(await health()).toBe(503);
      open[1]!.client.send('join', { context: 'elsewhere' });
      expect(await open[1]!.client.next('error')).toEqual({ event: 'error', data: { code: 'REGISTRY_UNAVAILABLE' } });
      expect(open[1]!.client.ws.readyState).toBe(open[1]!.client.ws.OPEN);

      await server.restart(); // empty: Redis kept nothing
      await waitFor(async () => (await app.registry.countByUser('u1').catch(() => 0)) === 2, 8000, 're-registration');
      expect((await app.connect('u1', 'three')).session.event).toBe('session');
      expect(await app.registry.countByUser('u1')).toBe(3);
      for (const s of open) expect(s.client.ws.readyState).toBe(s.client.ws.OPEN);
      expect(await health()).toBe(200);
    });

    it('closes with 4002 a context another instance took while Redis was away', async () => {
      prefix = uniquePrefix();
      const app = await startExampleApp({ WS_REGISTRY: 'redis', WS_REDIS_URL: REDIS_URL, WS_REDIS_KEY_PREFIX: prefix, WS_NODE_ID: 'holder' });
      apps.push(app);
      const held = await app.connect('u1', 'thread');
      await deleteKeys(prefix);
      const other = new RedisManagerRegistry({ url: REDIS_URL, keyPrefix: prefix, leaseTtlMs: 5000 });
      await other.start('other');
      try {
        const now = Date.now();
        await other.admit({ managerId: 'theirs', userId: 'u1', context: 'thread', nodeId: 'other', createdAt: now, lastActivityAt: now, detachedAt: null }, 20);
        expect(await app.app.get(RegistryEventsService).reRegister()).toEqual({ kept: 0, evicted: 1 });
        expect(await held.client.closed).toEqual({ code: 4002, reason: 'SUPERSEDED' });
        expect(await app.registry.countByUser('u1')).toBe(1);
      } finally {
        await other.close();
      }
    });

    it('evicts, with a reason, what no longer fits when it re-registers', async () => {
      prefix = uniquePrefix();
      const app = await startExampleApp({ WS_REGISTRY: 'redis', WS_REDIS_URL: REDIS_URL, WS_REDIS_KEY_PREFIX: prefix, WS_NODE_ID: 'holder', WS_MAX_MANAGERS_PER_USER: '2' });
      apps.push(app);
      const held = [await app.connect('u1', 'old'), await app.connect('u1', 'new')];
      held[1]!.client.send('echo', 'recent activity');
      await held[1]!.client.next('echo');
      // The store loses everything (a Redis restart without persistence) and another instance
      // takes one of the user's two slots before this one re-registers.
      await deleteKeys(prefix);
      const other = new RedisManagerRegistry({ url: REDIS_URL, keyPrefix: prefix, leaseTtlMs: 5000 });
      await other.start('other');
      try {
        const now = Date.now();
        await other.admit({ managerId: 'elsewhere', userId: 'u1', context: 'elsewhere', nodeId: 'other', createdAt: now, lastActivityAt: now, detachedAt: null }, 2);
        expect(await app.app.get(RegistryEventsService).reRegister()).toEqual({ kept: 1, evicted: 1 });
        expect(await held[0]!.client.next('evicted')).toEqual({ event: 'evicted', data: { level: 'reconcile', reason: 'lease_lost' } });
        expect((await held[0]!.client.closed).code).toBe(4001);
        expect(held[1]!.client.ws.readyState).toBe(held[1]!.client.ws.OPEN);
        expect(await app.registry.countByUser('u1')).toBe(2);
      } finally {
        await other.close();
      }
    });
  });
});
