import type { INestApplication } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { filter, firstValueFrom } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  CleanupLevel,
  InMemoryManagerRegistry,
  LocalManagerStore,
  ManagerLifecycleService,
  ManagerLimitExceededError,
  WebSocketManagerAdminModule,
  WebSocketManagerFactory,
  WebSocketManagerModule,
  type CleanupReport,
} from '../../src/index.js';
import { WebSocketManagerHealthModule } from '../../src/terminus.js';
import { closedOnServer, destroyTcp, SocketHarness, type SocketPair } from '../support/socket-harness.js';
import { deltas, parsePrometheusText, sample, type Samples } from '../unit/metrics/prometheus-text.js';

const TOKEN = 'e2e-admin-t0ken';

/** The in-memory registry, with a reachability switch standing in for a Redis outage. */
class SwitchableRegistry extends InMemoryManagerRegistry {
  reachable = true;

  override async ping(): Promise<boolean> {
    return this.reachable;
  }
}

interface RunningApp {
  app: INestApplication;
  url: string;
  registry: SwitchableRegistry;
  factory: WebSocketManagerFactory;
  store: LocalManagerStore;
  lifecycle: ManagerLifecycleService;
}

/** The library's HTTP surface (admin, metrics, health modules) on a module of its own, listening on port 0. */
async function startApp(adminToken: string | undefined): Promise<RunningApp> {
  const registry = new SwitchableRegistry();
  const moduleRef = await Test.createTestingModule({
    imports: [
      ScheduleModule.forRoot(),
      WebSocketManagerModule.forRootAsync({
        isGlobal: true,
        useFactory: () => ({
        registry,
        nodeId: 'e2e-node',
        maxManagersPerUser: 20,
        maxCleanupLevel: CleanupLevel.Moderate,
        probeTimeoutMs: 1000,
        heartbeatIntervalMs: 200,
        heartbeatTimeoutMs: 1000,
        cleanupCron: '0 0 0 1 1 *',
        }),
      }),
      WebSocketManagerHealthModule.forRoot(),
      WebSocketManagerAdminModule.forRoot({ token: adminToken }),
    ],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.listen(0, '127.0.0.1');
  return {
    app,
    url: (await app.getUrl()).replace('[::1]', '127.0.0.1'),
    registry,
    factory: app.get(WebSocketManagerFactory),
    store: app.get(LocalManagerStore),
    lifecycle: app.get(ManagerLifecycleService),
  };
}

describe('observability (the library\'s admin, metrics and health modules)', () => {
  let harness: SocketHarness;
  let running: RunningApp;

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${running.url}${path}`, { headers });
  const post = (path: string, headers: Record<string, string> = {}) => fetch(`${running.url}${path}`, { method: 'POST', headers });
  const admin = { authorization: `Bearer ${TOKEN}` };
  const scrape = async (): Promise<Samples> => parsePrometheusText(await (await get('/metrics')).text());

  async function admit(userId: string, context: string, pair?: SocketPair): Promise<SocketPair> {
    const socketPair = pair ?? (await harness.connect());
    await running.factory.acquire({ userId, context, socket: socketPair.server });
    return socketPair;
  }

  beforeEach(async () => {
    harness = await SocketHarness.start();
  });

  afterEach(async () => {
    await running?.app.close();
    await harness.close();
  });

  describe('with WS_ADMIN_TOKEN', () => {
    beforeEach(async () => {
      running = await startApp(TOKEN);
    });

    it('GET /metrics counts a scripted scenario exactly', async () => {
      const response = await get('/metrics');
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      const before = parsePrometheusText(await response.text());

      // Admissions: alice fills her 20 slots, opens a second tab on tab-0; bob opens two.
      const alice: SocketPair[] = [];
      for (let i = 0; i < 20; i++) alice.push(await admit('alice', `tab-${i}`));
      await admit('alice', 'tab-0');
      const bob = [await admit('bob', 'b-0'), await admit('bob', 'b-1')];

      // A zombie wave: five of alice's peers vanish without a close frame, unnoticed by anyone.
      // Bob closes one tab cleanly and its owner reports it: a detached manager.
      for (const pair of alice.slice(1, 6)) destroyTcp(pair.client);
      await Promise.all(alice.slice(1, 6).map(closedOnServer));
      bob[1]!.client.close();
      await closedOnServer(bob[1]!);
      await running.factory.release(bob[1]!.server);
      const afterWave = await scrape();
      expect(sample(afterWave, 'ws_manager_managers', { state: 'connected' })).toBe(16);
      expect(sample(afterWave, 'ws_manager_managers', { state: 'detached' })).toBe(6);
      expect(sample(afterWave, 'ws_manager_connections')).toBe(17);

      // An emergency cleanup: alice's 21st session removes the five zombies and is admitted.
      await admit('alice', 'tab-20');
      // A refusal: back at 20 with healthy managers only and maxCleanupLevel "moderate".
      for (let i = 21; i < 25; i++) await admit('alice', `tab-${i}`);
      await expect(admit('alice', 'tab-25')).rejects.toBeInstanceOf(ManagerLimitExceededError);

      // A manual cleanup through the admin API.
      const manual = await post('/admin/users/alice/cleanup?level=conservative', admin);
      expect(manual.status).toBe(200);
      expect((await manual.json()) as CleanupReport).toMatchObject({ trigger: 'manual', userId: 'alice', removed: 0, levels: [{ level: 'conservative' }] });

      // A peer that stops answering pings is terminated by the heartbeat.
      const terminated = firstValueFrom(running.lifecycle.events$.pipe(filter((e) => e.type === 'heartbeat_terminated')));
      await admit('carol', 'mute', await harness.connect({ autoPong: false }));
      await terminated;

      const after = await scrape();
      expect(deltas(before, after)).toEqual({
        'ws_manager_admissions_total{result="admitted"}': 28,
        'ws_manager_admissions_total{result="resumed"}': 1,
        'ws_manager_admissions_total{result="rejected"}': 1,
        'ws_manager_cleanup_runs_total{level="conservative",trigger="emergency"}': 2,
        'ws_manager_cleanup_runs_total{level="moderate",trigger="emergency"}': 1,
        'ws_manager_cleanup_runs_total{level="conservative",trigger="manual"}': 1,
        'ws_manager_cleanup_removed_total{level="conservative",reason="sockets_closed",trigger="emergency"}': 5,
        'ws_manager_zombies_detected_total{reason="sockets_closed"}': 5,
        'ws_manager_emergency_cleanup_failures_total': 1,
        'ws_manager_heartbeat_terminations_total': 1,
        'ws_manager_cleanup_duration_seconds_count{trigger="emergency"}': 2,
        'ws_manager_cleanup_duration_seconds_count{trigger="manual"}': 1,
        'ws_manager_cleanup_successes_total{trigger="emergency"}': 1,
      });
      // alice: 20 connected (tab-0 with two sockets); bob: one connected, one detached;
      // carol: her only socket terminated.
      expect(sample(after, 'ws_manager_managers', { state: 'connected' })).toBe(21);
      expect(sample(after, 'ws_manager_managers', { state: 'detached' })).toBe(2);
      expect(sample(after, 'ws_manager_connections')).toBe(22);
      expect(running.store.size).toBe(23);
      const open = [...running.store.values()].flatMap((m) => [...m.connections]).filter((c) => c.socket.readyState === WebSocket.OPEN);
      expect(open).toHaveLength(22);
      expect(await (await get('/metrics')).text()).toContain('process_resident_memory_bytes');
    });

    it('GET /health answers 200 while the registry is reachable and 503 when it is not', async () => {
      await admit('dave', 'one');
      const up = await get('/health');
      expect(up.status).toBe(200);
      expect(await up.json()).toEqual({
        status: 'ok',
        info: { websocket: { status: 'up', registry: 'memory', managers: 1, connections: 1, lastSweepZombies: 0, lastSweepAgeMs: null } },
        error: {},
        details: { websocket: { status: 'up', registry: 'memory', managers: 1, connections: 1, lastSweepZombies: 0, lastSweepAgeMs: null } },
      });

      running.registry.reachable = false;
      const down = await get('/health');
      expect(down.status).toBe(503);
      expect(await down.json()).toMatchObject({
        status: 'error',
        error: { websocket: { status: 'down', message: 'registry (memory) unreachable: ping failed' } },
      });

      running.registry.reachable = true;
      expect((await get('/health')).status).toBe(200);
    });

    it('the admin API answers 401 without the right bearer token and 200 with it', async () => {
      await admit('erin', 'chat');
      const pair = await admit('erin', 'gone');
      destroyTcp(pair.client);
      await closedOnServer(pair);
      const path = '/admin/users/erin/managers';

      expect((await get(path)).status).toBe(401);
      expect((await get(path, { authorization: 'Bearer wrong-token' })).status).toBe(401);
      expect((await get(path, { authorization: `Bearer ${TOKEN}x` })).status).toBe(401);
      expect((await get(path, { authorization: `Basic ${TOKEN}` })).status).toBe(401);
      expect((await get(path, { authorization: TOKEN })).status).toBe(401);
      expect((await post('/admin/users/erin/cleanup?level=conservative')).status).toBe(401);
      expect((await post('/admin/users/erin/cleanup?level=conservative', { authorization: 'Bearer nope' })).status).toBe(401);

      const listed = await get(path, admin);
      expect(listed.status).toBe(200);
      const inventory = (await listed.json()) as { context: string }[];
      expect(inventory.sort((a, b) => a.context.localeCompare(b.context))).toEqual([
        {
          managerId: expect.any(String),
          context: 'chat',
          state: 'connected',
          health: 'healthy',
          reasons: [],
          connections: 1,
          createdAt: expect.any(Number),
          lastActivityAt: expect.any(Number),
          nodeId: 'e2e-node',
        },
        expect.objectContaining({ context: 'gone', state: 'detached', health: 'zombie', reasons: ['sockets_closed'], connections: 0 }),
      ]);
      expect(await (await get('/admin/users/nobody/managers', admin)).json()).toEqual([]);

      const bad = await post('/admin/users/erin/cleanup?level=nuclear', admin);
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ message: 'level must be one of conservative, moderate, aggressive, force' });
      expect((await post('/admin/users/erin/cleanup', admin)).status).toBe(400);

      const cleaned = await post('/admin/users/erin/cleanup?level=conservative', admin);
      expect(cleaned.status).toBe(200);
      expect(await cleaned.json()).toMatchObject({
        trigger: 'manual',
        userId: 'erin',
        removed: 1,
        levels: [{ level: 'conservative', removed: 1, reasons: { sockets_closed: 1 } }],
      });
      expect(await (await get(path, admin)).json()).toEqual([expect.objectContaining({ context: 'chat' })]);
    });
  });

  describe('without WS_ADMIN_TOKEN', () => {
    beforeEach(async () => {
      running = await startApp(undefined);
    });

    it('every admin route answers 404, whatever the token', async () => {
      for (const headers of [{}, admin, { authorization: 'Bearer anything' }]) {
        expect((await get('/admin/users/erin/managers', headers)).status).toBe(404);
        expect((await post('/admin/users/erin/cleanup?level=conservative', headers)).status).toBe(404);
      }
      expect((await get('/health')).status).toBe(200);
      expect((await get('/metrics')).status).toBe(200);
    });
  });
});
