import { CronTime } from 'cron';
import { ScheduleModule } from '@nestjs/schedule';
import { TerminusModule } from '@nestjs/terminus';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  InMemoryManagerRegistry,
  ScheduledSweepService,
  WebSocketManagerFactory,
  WebSocketManagerModule,
} from '../../../src/index.js';
import { Controller, Get, Module } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { WebSocketManagerHealthIndicator, WebSocketManagerHealthModule } from '../../../src/terminus.js';
import { closedOnServer, destroyTcp, SocketHarness } from '../../support/socket-harness.js';

/** An in-memory registry whose reachability the test decides. */
class SwitchableRegistry extends InMemoryManagerRegistry {
  answer: 'up' | 'down' | 'throw' | 'hang' = 'up';

  override async ping(): Promise<boolean> {
    if (this.answer === 'throw') throw new Error('ECONNREFUSED 127.0.0.1:6379');
    if (this.answer === 'hang') return new Promise<boolean>(() => undefined);
    return this.answer === 'up';
  }
}

const DAY = 86_400_000;

describe('WebSocketManagerHealthIndicator', () => {
  let module: TestingModule;
  let registry: SwitchableRegistry;
  let indicator: WebSocketManagerHealthIndicator;

  beforeEach(async () => {
    registry = new SwitchableRegistry();
    module = await Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot(),
        TerminusModule.forRoot({ logger: false }),
        // Yearly: the real cron never fires during the test.
        WebSocketManagerModule.forRoot({ registry, cleanupCron: '0 0 0 1 1 *', nodeId: 'health-node' }),
      ],
      providers: [WebSocketManagerHealthIndicator],
    }).compile();
    module.useLogger(false);
    await module.init();
    indicator = module.get(WebSocketManagerHealthIndicator);
  });

  afterEach(async () => {
    vi.useRealTimers();
    await module.close();
  });

  describe('#isHealthy', () => {
    it('is up with the registry kind, counts and the last sweep', async () => {
      const harness = await SocketHarness.start();
      try {
        const factory = module.get(WebSocketManagerFactory);
        const pairs = await harness.connectMany(3);
        for (const [i, pair] of pairs.entries()) await factory.acquire({ userId: 'ann', context: `c${i}`, socket: pair.server });
        expect(await indicator.isHealthy()).toEqual({
          websocket: { status: 'up', registry: 'memory', managers: 3, connections: 3, lastSweepZombies: 0, lastSweepAgeMs: null },
        });

        destroyTcp(pairs[0]!.client);
        await closedOnServer(pairs[0]!);
        await module.get(ScheduledSweepService).sweep();
        const result = await indicator.isHealthy('ws');
        expect(result.ws).toMatchObject({ status: 'up', managers: 2, connections: 2, lastSweepZombies: 1 });
        expect(result.ws.lastSweepAgeMs).toBeGreaterThanOrEqual(0);
        expect(result.ws.lastSweepAgeMs).toBeLessThan(1000);
      } finally {
        await harness.close();
      }
    });

    it('is down when the registry answers false, throws or does not answer', async () => {
      registry.answer = 'down';
      expect((await indicator.isHealthy()).websocket).toMatchObject({ status: 'down', message: 'registry (memory) unreachable: ping failed' });
      registry.answer = 'throw';
      expect((await indicator.isHealthy()).websocket).toMatchObject({
        status: 'down',
        message: 'registry (memory) unreachable: ECONNREFUSED 127.0.0.1:6379',
      });
      registry.answer = 'hang';
      expect((await indicator.isHealthy('websocket', { pingTimeoutMs: 30 })).websocket).toMatchObject({
        status: 'down',
        message: 'registry (memory) unreachable: timeout of 30ms exceeded',
      });
      registry.answer = 'up';
      expect((await indicator.isHealthy()).websocket.status).toBe('up');
    });

    it('is degraded (not down) when no sweep finished for three cron periods since bootstrap, up again after one', async () => {
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
      vi.setSystemTime(Date.now() + 2 * 365 * DAY); // two yearly periods: still fine
      expect((await indicator.isHealthy()).websocket.status).toBe('up');

      vi.setSystemTime(Date.now() + 2 * 366 * DAY); // four: degraded
      const down = (await indicator.isHealthy()).websocket;
      expect(down).toMatchObject({ status: 'degraded', lastSweepAgeMs: null });
      expect(down.message).toMatch(/^no sweep has finished; expected one every \d+ ms \(0 0 0 1 1 \*\)$/);

      await module.get(ScheduledSweepService).sweep();
      expect((await indicator.isHealthy()).websocket).toMatchObject({ status: 'up', lastSweepAgeMs: 0 });
    });

    it('computes the cron period once a minute, not on every probe', async () => {
      const sendAt = vi.spyOn(CronTime.prototype, 'sendAt');
      try {
        vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 10 * 60_000 }); // past anything an earlier test cached
        for (let i = 0; i < 5; i++) await indicator.isHealthy();
        expect(sendAt).toHaveBeenCalledTimes(1);
        vi.setSystemTime(Date.now() + 61_000);
        await indicator.isHealthy();
        expect(sendAt).toHaveBeenCalledTimes(2);
      } finally {
        sendAt.mockRestore();
        vi.useRealTimers();
      }
    });
  });

  describe('WebSocketManagerHealthModule', () => {
    it('lets a separate health module use the indicator, nothing global', async () => {
      @Controller('health')
      class HealthController {
        constructor(
          private readonly health: HealthCheckService,
          private readonly ws: WebSocketManagerHealthIndicator,
        ) {}
        @Get() @HealthCheck() check() {
          return this.health.check([() => this.ws.isHealthy('websocket')]);
        }
      }
      @Module({ imports: [TerminusModule.forRoot({ logger: false }), WebSocketManagerHealthModule], controllers: [HealthController] })
      class HealthModule {}
      const separate = await Test.createTestingModule({
        imports: [ScheduleModule.forRoot(), WebSocketManagerModule.forRoot({ cleanupCron: '0 0 0 1 1 *' }), HealthModule],
      }).compile();
      separate.useLogger(false);
      await separate.init();
      try {
        const result = await separate.get(HealthController).check();
        expect(result).toMatchObject({ status: 'ok', info: { websocket: { status: 'up', registry: 'memory' } } });
      } finally {
        await separate.close();
      }
    });
  });
});
