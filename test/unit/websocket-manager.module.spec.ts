import { Injectable, Module, type DynamicModule } from '@nestjs/common';
import { ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CleanupLevel,
  EmergencyCleanupInterceptor,
  EmergencyCleanupService,
  HealthAssessmentService,
  HeartbeatService,
  InMemoryManagerRegistry,
  InvalidOptionsError,
  LocalManagerStore,
  MANAGER_REGISTRY,
  ManagerLifecycleService,
  ScheduledSweepService,
  SWEEP_JOB_NAME,
  WebSocketManagerFactory,
  WebSocketManagerModule,
  WS_MANAGER_DEFAULTS,
  WS_MANAGER_OPTIONS,
  type ResolvedWsManagerOptions,
  RegistryEventsService,
  WebSocketManagerMetrics,
  CleanupAlarmService,
} from '../../src/index.js';

// A stand-in for @nestjs/config: a module exporting a service that holds values.
const SETTINGS = { maxManagersPerUser: 4, cleanupCron: '*/10 * * * * *' };
@Injectable()
class SettingsService {
  get<K extends keyof typeof SETTINGS>(key: K): (typeof SETTINGS)[K] {
    return SETTINGS[key];
  }
}
@Module({ providers: [SettingsService], exports: [SettingsService] })
class SettingsModule {}

const EXPORTED = [
  LocalManagerStore,
  ManagerLifecycleService,
  HealthAssessmentService,
  HeartbeatService,
  EmergencyCleanupService,
  ScheduledSweepService,
  WebSocketManagerFactory,
  RegistryEventsService,
  EmergencyCleanupInterceptor,
  WebSocketManagerMetrics,
  CleanupAlarmService,
];

describe('WebSocketManagerModule', () => {
  let module: TestingModule | undefined;

  afterEach(async () => {
    vi.useRealTimers();
    await module?.close();
    module = undefined;
  });

  async function boot(dynamic: DynamicModule): Promise<TestingModule> {
    module = await Test.createTestingModule({ imports: [ScheduleModule.forRoot(), dynamic] }).compile();
    module.useLogger(false);
    await module.init();
    return module;
  }

  const optionsOf = (m: TestingModule) => m.get<ResolvedWsManagerOptions>(WS_MANAGER_OPTIONS);

  describe('#forRoot', () => {
    it('provides resolved defaults', async () => {
      const m = await boot(WebSocketManagerModule.forRoot());
      expect(optionsOf(m)).toMatchObject({ ...WS_MANAGER_DEFAULTS, nodeId: expect.any(String) });
      expect(m.get(MANAGER_REGISTRY)).toBeInstanceOf(InMemoryManagerRegistry);
    });

    it('provides the given options, validated and defaulted', async () => {
      const m = await boot(WebSocketManagerModule.forRoot({ maxManagersPerUser: 3, maxCleanupLevel: 'force', nodeId: 'n1' }));
      expect(optionsOf(m)).toMatchObject({ maxManagersPerUser: 3, maxCleanupLevel: CleanupLevel.Force, nodeId: 'n1', path: '/ws' });
    });

    it('uses a registry instance given in the options', async () => {
      const registry = new InMemoryManagerRegistry();
      const m = await boot(WebSocketManagerModule.forRoot({ registry }));
      expect(m.get(MANAGER_REGISTRY)).toBe(registry);
    });

    it('throws InvalidOptionsError at call time for bad options', () => {
      expect(() => WebSocketManagerModule.forRoot({ maxManagersPerUser: 0 })).toThrow(InvalidOptionsError);
      expect(() => WebSocketManagerModule.forRoot({ cleanupCron: 'soon' })).toThrow(/cleanupCron/);
    });

    it('makes every exported service resolvable from the importing module', async () => {
      const m = await boot(WebSocketManagerModule.forRoot());
      for (const service of EXPORTED) expect(m.get(service, { strict: false })).toBeInstanceOf(service);
      expect(m.get(WebSocketManagerFactory)).toBe(m.get(WebSocketManagerFactory));
    });
  });

  describe('#forRootAsync', () => {
    it('resolves options from useFactory', async () => {
      const m = await boot(WebSocketManagerModule.forRootAsync({ useFactory: () => ({ maxManagersPerUser: 9 }) }));
      expect(optionsOf(m).maxManagersPerUser).toBe(9);
      expect(optionsOf(m).resumeWindowMs).toBe(WS_MANAGER_DEFAULTS.resumeWindowMs);
    });

    it('awaits an async useFactory', async () => {
      const m = await boot(
        WebSocketManagerModule.forRootAsync({
          useFactory: async () => {
            await new Promise((r) => setTimeout(r, 5));
            return { resumeBuffer: 3 };
          },
        }),
      );
      expect(optionsOf(m).resumeBuffer).toBe(3);
    });

    it('injects providers of imported modules', async () => {
      const m = await boot(
        WebSocketManagerModule.forRootAsync({
          imports: [SettingsModule],
          inject: [SettingsService],
          useFactory: (settings: SettingsService) => ({
            maxManagersPerUser: settings.get('maxManagersPerUser'),
            cleanupCron: settings.get('cleanupCron'),
          }),
        }),
      );
      expect(optionsOf(m)).toMatchObject(SETTINGS);
      const job = m.get(SchedulerRegistry).getCronJob(SWEEP_JOB_NAME);
      expect(job.cronTime.source).toBe(SETTINGS.cleanupCron);
    });

    it('injects extraProviders', async () => {
      const m = await boot(
        WebSocketManagerModule.forRootAsync({
          extraProviders: [{ provide: 'LIMIT', useValue: 11 }],
          inject: ['LIMIT'],
          useFactory: (limit: number) => ({ maxManagersPerUser: limit }),
        }),
      );
      expect(optionsOf(m).maxManagersPerUser).toBe(11);
    });

    it('fails at init with InvalidOptionsError for bad options', async () => {
      const dynamic = WebSocketManagerModule.forRootAsync({ useFactory: () => ({ maxCleanupLevel: 'nuclear' as CleanupLevel }) });
      const building = Test.createTestingModule({ imports: [ScheduleModule.forRoot(), dynamic] }).compile();
      await expect(building).rejects.toBeInstanceOf(InvalidOptionsError);
      await expect(building).rejects.toThrow(/maxCleanupLevel="nuclear"/);
    });

    it('makes every exported service resolvable', async () => {
      const m = await boot(WebSocketManagerModule.forRootAsync({ useFactory: () => ({}) }));
      for (const service of EXPORTED) expect(m.get(service, { strict: false })).toBeInstanceOf(service);
    });
  });

  describe('#close', () => {
    it('registers the sweep job at bootstrap and removes it and every timer on close', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
      const m = await boot(WebSocketManagerModule.forRoot({ cleanupCron: '*/15 * * * * *' }));
      const scheduler = m.get(SchedulerRegistry);
      expect(scheduler.getCronJob(SWEEP_JOB_NAME).cronTime.source).toBe('*/15 * * * * *');
      // The cron job's next-run timeout and the heartbeat wheel's interval.
      expect(vi.getTimerCount()).toBeGreaterThanOrEqual(2);

      await m.close();
      module = undefined;
      expect(scheduler.doesExist('cron', SWEEP_JOB_NAME)).toBe(false);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('closes the registry on shutdown', async () => {
      const registry = new InMemoryManagerRegistry();
      const closing = vi.spyOn(registry, 'close');
      const m = await boot(WebSocketManagerModule.forRoot({ registry }));
      await m.close();
      module = undefined;
      expect(closing).toHaveBeenCalledTimes(1);
    });
  });
});
