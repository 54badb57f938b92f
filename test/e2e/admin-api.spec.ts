import { ForbiddenException, Injectable, type CanActivate, type ExecutionContext, type INestApplication } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DASHBOARD_CSP, WebSocketManagerAdminModule, WebSocketManagerModule } from '../../src/index.js';
import { SseReader } from '../support/admin-client.js';
import { startExampleApp, type RunningApp } from '../support/app-harness.js';
import { deleteKeys, REDIS_URL, requireRedis, uniquePrefix } from '../support/redis.js';
import { waitFor } from '../support/socket-harness.js';

const TOKEN = 'admin-e2e-t0ken';
const AUTH = { authorization: `Bearer ${TOKEN}` };

/** Every admin API route, with a method. */
const ROUTES: [string, string][] = [
  ['GET', '/admin/overview'],
  ['GET', '/admin/users?top=5'],
  ['GET', '/admin/users/someone/managers'],
  ['DELETE', '/admin/users/someone/managers/00000000-0000-0000-0000-000000000000'],
  ['POST', '/admin/users/someone/cleanup?level=conservative'],
  ['GET', '/admin/nodes'],
  ['GET', '/admin/events'],
];

async function call(port: number, method: string, path: string, headers: Record<string, string> = {}): Promise<Response> {
  const controller = new AbortController();
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers, signal: controller.signal });
  // The event stream never ends: the status is all these checks need.
  if (path.endsWith('/events')) controller.abort();
  return response;
}

const modes = [
  { mode: 'memory', env: (): Record<string, string> => ({}) },
  { mode: 'redis', env: (prefix: string): Record<string, string> => ({ WS_REGISTRY: 'redis', WS_REDIS_URL: REDIS_URL, WS_REDIS_KEY_PREFIX: prefix, WS_NODE_ID: 'admin-node-a' }) },
];

describe.each(modes)('WebSocketManagerAdminModule API ($mode registry, example app)', ({ mode, env }) => {
  let running: RunningApp | undefined;
  let prefix: string;

  beforeAll(async () => {
    if (mode === 'redis') await requireRedis();
  });
  afterEach(async () => {
    await running?.close();
    running = undefined;
    if (mode === 'redis') await deleteKeys(prefix);
  });

  async function start(extra: Record<string, string> = {}): Promise<RunningApp> {
    prefix = uniquePrefix();
    running = await startExampleApp({ WS_ADMIN_TOKEN: TOKEN, ...env(prefix), ...extra });
    return running;
  }

  it('answers every route 401 without the token or with a wrong one, and serves it with the token', async () => {
    const app = await start();
    for (const [method, path] of ROUTES) {
      for (const headers of [{} as Record<string, string>, { authorization: 'Bearer wrong-token' }, { authorization: `Bearer ${TOKEN}x` }, { authorization: `Basic ${TOKEN}` }]) {
        expect((await call(app.port, method, path, headers)).status, `${method} ${path} ${JSON.stringify(headers)}`).toBe(401);
      }
      const allowed = await call(app.port, method, path, AUTH);
      // The DELETE names a session that does not exist: past the guard, it is a 404.
      expect(allowed.status, `${method} ${path}`).toBe(method === 'DELETE' ? 404 : 200);
    }
    const page = await call(app.port, 'GET', '/admin');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toBe(DASHBOARD_CSP);
    expect(await page.text()).toContain('src="/admin/dashboard.js"');
    for (const asset of ['/admin/dashboard.js', '/admin/dashboard.css']) {
      const response = await call(app.port, 'GET', asset);
      expect(response.status).toBe(200);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });

  it('ranks users, lists their sessions, and evicts one: 4001 with reason admin, and it is gone', async () => {
    const app = await start();
    const alice = await Promise.all(['a1', 'a2', 'a3'].map((c) => app.connect('alice', c)));
    await app.connect('bob', 'b1');

    await waitFor(async () => JSON.stringify(await (await call(app.port, 'GET', '/admin/users?top=2', AUTH)).json()) === JSON.stringify([
      { userId: 'alice', managers: 3, limit: 20 },
      { userId: 'bob', managers: 1, limit: 20 },
    ]), 10_000);

    const listed = (await (await call(app.port, 'GET', '/admin/users/alice/managers', AUTH)).json()) as { managerId: string; context: string; health: string; connections: number }[];
    expect(listed.map((m) => m.context).sort()).toEqual(['a1', 'a2', 'a3']);
    expect(listed.every((m) => m.health === 'healthy' && m.connections === 1)).toBe(true);

    const victim = alice[1]!;
    const evicted = await call(app.port, 'DELETE', `/admin/users/alice/managers/${victim.session.data.managerId}`, AUTH);
    expect(evicted.status).toBe(200);
    expect(await evicted.json()).toEqual({ managerId: victim.session.data.managerId, removed: true, closeFailed: false });
    expect(await victim.client.next('evicted')).toEqual({ event: 'evicted', data: { level: 'manual', reason: 'admin' } });
    expect(await victim.client.closed).toEqual({ code: 4001, reason: 'EVICTED' });

    const after = (await (await call(app.port, 'GET', '/admin/users/alice/managers', AUTH)).json()) as { context: string }[];
    expect(after.map((m) => m.context).sort()).toEqual(['a1', 'a3']);
    expect(await app.registry.countByUser('alice')).toBe(2);
    await waitFor(async () => ((await (await call(app.port, 'GET', '/admin/users?top=1', AUTH)).json()) as { managers: number }[])[0]?.managers === 2, 10_000);
    // Evicting it again: it no longer exists.
    expect((await call(app.port, 'DELETE', `/admin/users/alice/managers/${victim.session.data.managerId}`, AUTH)).status).toBe(404);
  });

  it('answers bad input 400 and unknown sessions 404, and keeps serving', async () => {
    const app = await start();
    const { session } = await app.connect('carol', 'c1');
    const bad: [string, string, RegExp][] = [
      ['POST', '/admin/users/carol/cleanup?level=nuclear', /level must be one of conservative, moderate, aggressive, force/],
      ['POST', '/admin/users/carol/cleanup', /level must be one of/],
      ['GET', `/admin/users/${'x'.repeat(513)}/managers`, /userId must be 1-512 characters/],
      ['GET', '/admin/users/bad%0Aid/managers', /without control characters/],
      ['DELETE', `/admin/users/carol/managers/${'m'.repeat(129)}`, /managerId must be 1-128/],
      ['POST', `/admin/users/${'x'.repeat(600)}/cleanup?level=conservative`, /userId must be/],
      ['GET', '/admin/users?top=0', /top must be a whole number from 1 to 100/],
      ['GET', '/admin/users?top=101', /top must be/],
      ['GET', '/admin/users?top=ten', /top must be/],
    ];
    for (const [method, path, message] of bad) {
      const response = await call(app.port, method, path, AUTH);
      expect(response.status, `${method} ${path.slice(0, 60)}`).toBe(400);
      expect(JSON.stringify(await response.json())).toMatch(message);
    }
    // A real manager id under another user is unknown for this one.
    expect((await call(app.port, 'DELETE', `/admin/users/mallory/managers/${session.data.managerId}`, AUTH)).status).toBe(404);
    expect((await call(app.port, 'DELETE', '/admin/users/carol/managers/no-such-manager', AUTH)).status).toBe(404);
    expect(await app.registry.countByUser('carol')).toBe(1);
    const cleaned = await call(app.port, 'POST', '/admin/users/carol/cleanup?level=conservative', AUTH);
    expect(await cleaned.json()).toMatchObject({ trigger: 'manual', userId: 'carol', removed: 0, levels: [{ level: 'conservative', candidates: 0 }] });
  });

  it('reports the cluster nodes from the lease keys and node sets', async () => {
    const app = await start();
    await app.connect('dave', 'd1');
    const nodes = (await (await call(app.port, 'GET', '/admin/nodes', AUTH)).json()) as { clustered: boolean; nodes: unknown[] };
    const anyNumber = expect.any(Number);
    const expected =
      mode === 'memory'
        ? { clustered: false, nodes: [] }
        : { clustered: true, nodes: [{ nodeId: 'admin-node-a', alive: true, leaseAgeMs: anyNumber, managers: 1, self: true }] };
    expect(nodes).toEqual(expected);
  });

  it('streams the overview and each lifecycle event over SSE', async () => {
    const app = await start();
    const reader = new SseReader(`http://127.0.0.1:${app.port}/admin/events`, AUTH);
    try {
      expect(await reader.status).toBe(200);
      const first = await reader.waitFor((e) => e.type === 'overview');
      expect(first.data).toMatchObject({ registry: mode, limit: 20, byHealth: { zombie: 0, healthy: 0 }, managers: 0 });
      await app.connect('erin', 'e1');
      const batch = await reader.waitFor((e) => e.type === 'lifecycle' && e.data.some((x: { type: string }) => x.type === 'created'));
      expect(batch.data.map((x: { type: string }) => x.type)).toEqual(['created', 'attached']);
      expect(batch.data[0]).toMatchObject({ type: 'created', userId: 'erin', context: 'e1', managerId: expect.any(String), at: expect.any(Number) });
      const seen = await reader.waitFor((e) => e.type === 'overview' && e.data.managers === 1);
      expect(seen.data).toMatchObject({ byHealth: { healthy: 1 }, connections: 1, topUsers: [{ userId: 'erin', managers: 1, limit: 20 }] });
    } finally {
      reader.close();
    }
  });
});

describe('WebSocketManagerAdminModule without a token', () => {
  it('answers every admin route, the dashboard and the stream 404 whatever the headers; /metrics and /health stay up', async () => {
    const app = await startExampleApp();
    try {
      for (const [method, path] of [...ROUTES, ['GET', '/admin'], ['GET', '/admin/dashboard.js']] as [string, string][]) {
        for (const headers of [{}, AUTH]) expect((await call(app.port, method, path, headers)).status, `${method} ${path}`).toBe(404);
      }
      expect((await call(app.port, 'GET', '/metrics')).status).toBe(200);
      expect((await call(app.port, 'GET', '/health')).status).toBe(200);
    } finally {
      await app.close();
    }
  });
});

/** A host's own guard: an operator role header (standing in for a session or SSO check). */
@Injectable()
class OpsRoleGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>();
    if (request.headers['x-role'] !== 'ops') throw new ForbiddenException('operators only');
    return true;
  }
}

describe('WebSocketManagerAdminModule with a host guard, a custom path and no metrics endpoint', () => {
  let app: INestApplication;
  let port: number;

  afterEach(async () => {
    await app?.close();
  });

  it('asks the host guard instead of a token, on every route, under the configured path', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot(),
        WebSocketManagerModule.forRootAsync({ isGlobal: true, useFactory: () => ({ nodeId: 'guarded', cleanupCron: '0 0 0 1 1 *' }) }),
        WebSocketManagerAdminModule.forRootAsync({ useFactory: () => ({}), guard: OpsRoleGuard, path: '/ops/ws/', metricsPath: false }),
      ],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    port = Number(new URL(await app.getUrl()).port);
    for (const [method, path] of ROUTES) {
      const mounted = path.replace('/admin/', '/ops/ws/');
      expect((await call(port, method, mounted)).status, mounted).toBe(403);
      expect((await call(port, method, mounted, AUTH)).status, mounted).toBe(403);
      expect((await call(port, method, mounted, { 'x-role': 'ops' })).status, mounted).toBe(method === 'DELETE' ? 404 : 200);
      expect((await call(port, method, path, { 'x-role': 'ops' })).status, path).toBe(404);
    }
    const page = await call(port, 'GET', '/ops/ws');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('content="/ops/ws"');
    expect((await call(port, 'GET', '/metrics')).status).toBe(404);
  });
});

describe('WebSocketManagerAdminModule in cluster mode (two instances, one Redis)', () => {
  let prefix: string;
  const apps: RunningApp[] = [];

  beforeAll(() => requireRedis());
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close();
    await deleteKeys(prefix);
  });

  it('ranks users held on any instance, heals a stale score, and lists both nodes', async () => {
    prefix = uniquePrefix();
    const base = { WS_ADMIN_TOKEN: TOKEN, WS_REGISTRY: 'redis', WS_REDIS_URL: REDIS_URL, WS_REDIS_KEY_PREFIX: prefix };
    const a = await startExampleApp({ ...base, WS_NODE_ID: 'admin-a' });
    apps.push(a);
    const b = await startExampleApp({ ...base, WS_NODE_ID: 'admin-b' });
    apps.push(b);
    await Promise.all(['t1', 't2', 't3'].map((c) => b.connect('on-b', c)));
    await a.connect('on-a', 't1');

    const { Redis } = await import('ioredis');
    const redis = new Redis(REDIS_URL);
    try {
      // A node that died with its users counted leaves a stale score behind.
      await redis.zadd(`${prefix}admin:top-users`, 50, 'ghost');
      const top = async () => (await (await call(a.port, 'GET', '/admin/users?top=5', AUTH)).json()) as { userId: string; managers: number }[];
      await waitFor(async () => JSON.stringify(await top()) === JSON.stringify([{ userId: 'on-b', managers: 3, limit: 20 }, { userId: 'on-a', managers: 1, limit: 20 }]), 10_000);
      expect(await redis.zscore(`${prefix}admin:top-users`, 'ghost')).toBeNull();
    } finally {
      redis.disconnect();
    }

    const nodes = (await (await call(a.port, 'GET', '/admin/nodes', AUTH)).json()) as { nodes: { nodeId: string; managers: number; self: boolean; alive: boolean }[] };
    expect(nodes.nodes.map(({ nodeId, managers, self, alive }) => ({ nodeId, managers, self, alive }))).toEqual([
      { nodeId: 'admin-a', managers: 1, self: true, alive: true },
      { nodeId: 'admin-b', managers: 3, self: false, alive: true },
    ]);

    // Evicting from A a session held by B: B closes it with 4001.
    const remote = (await (await call(a.port, 'GET', '/admin/users/on-b/managers', AUTH)).json()) as { managerId: string; nodeId: string; connections: number | null }[];
    expect(remote.every((m) => m.nodeId === 'admin-b' && m.connections === null)).toBe(true);
    const evicted = await call(a.port, 'DELETE', `/admin/users/on-b/managers/${remote[0]!.managerId}`, AUTH);
    expect(await evicted.json()).toMatchObject({ removed: true });
    await waitFor(async () => (await b.registry.countByUser('on-b')) === 2 && b.factory.listLocal('on-b').length === 2, 10_000);
  });
});
