import { Inject, Injectable, Module, type DynamicModule } from '@nestjs/common';
import { registerAs } from '@nestjs/config';
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
  WS_MANAGER_MODULE_OPTIONS,
  type ResolvedWsManagerOptions,
  type WebSocketManagerOptionsFactory,
  type WsManagerOptions,
  RegistryEventsService,
  WebSocketManagerMetrics,
  CleanupAlarmService,
  WebSocketIdentityService,
  WebSocketSessions,
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

/** A `useClass` / `useExisting` options factory that injects a service of an imported module. */
@Injectable()
class WsOptionsFactory implements WebSocketManagerOptionsFactory {
  constructor(private readonly settings: SettingsService) {}
  createWebSocketManagerOptions(): WsManagerOptions {
    return { maxManagersPerUser: this.settings.get('maxManagersPerUser') };
  }
}
@Module({ imports: [SettingsModule], providers: [WsOptionsFactory], exports: [WsOptionsFactory] })
class WsOptionsModule {}

/** A feature module that does not import WebSocketManagerModule (for isGlobal). */
@Injectable()
class FeatureService {
  constructor(readonly factory: WebSocketManagerFactory) {}
}
@Module({ providers: [FeatureService] })
class FeatureModule {}

/** An injectable identity resolver given by class (its own DI). */
@Injectable()
class TokenResolver {
  constructor(@Inject('USERS') private readonly users: Record<string, string>) {}
  resolve(): string | null {
    return this.users.t ?? null;
  }
}

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
  WebSocketIdentityService,
  WebSocketSessions,
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

    it('takes isGlobal inside the options', async () => {
      module = await Test.createTestingModule({
        imports: [ScheduleModule.forRoot(), WebSocketManagerModule.forRoot({ isGlobal: true }), FeatureModule],
      }).compile();
      expect(module.get(FeatureService).factory).toBe(module.get(WebSocketManagerFactory));
      expect(optionsOf(module)).not.toHaveProperty('isGlobal');
    });

    it('is not global by default: a feature module that does not import it cannot inject it', async () => {
      const building = Test.createTestingModule({
        imports: [ScheduleModule.forRoot(), WebSocketManagerModule.forRoot(), FeatureModule],
      }).compile();
      await expect(building).rejects.toThrow(/FeatureService/);
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
      const job = m.get(SchedulerRegistry).getCronJob(m.get(ScheduledSweepService).jobName!);
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

    it('takes the options from a useClass factory that injects an imported service', async () => {
      const m = await boot(WebSocketManagerModule.forRootAsync({ imports: [SettingsModule], useClass: WsOptionsFactory }));
      expect(optionsOf(m).maxManagersPerUser).toBe(SETTINGS.maxManagersPerUser);
    });

    it('takes the options from an existing provider (useExisting)', async () => {
      const m = await boot(WebSocketManagerModule.forRootAsync({ imports: [WsOptionsModule], useExisting: WsOptionsFactory }));
      expect(optionsOf(m).maxManagersPerUser).toBe(SETTINGS.maxManagersPerUser);
    });

    it("takes @nestjs/config's registerAs(...).asProvider()", async () => {
      const wsConfig = registerAs('ws', (): WsManagerOptions => ({ maxManagersPerUser: 6, cleanupCron: '*/20 * * * * *' }));
      const m = await boot(WebSocketManagerModule.forRootAsync(wsConfig.asProvider()));
      expect(optionsOf(m)).toMatchObject({ maxManagersPerUser: 6, cleanupCron: '*/20 * * * * *' });
    });

    it('takes isGlobal next to the factory', async () => {
      module = await Test.createTestingModule({
        imports: [ScheduleModule.forRoot(), WebSocketManagerModule.forRootAsync({ isGlobal: true, useFactory: () => ({}) }), FeatureModule],
      }).compile();
      expect(module.get(FeatureService).factory).toBe(module.get(WebSocketManagerFactory));
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
      const name = m.get(ScheduledSweepService).jobName!;
      expect(name).toBe(`${SWEEP_JOB_NAME}:${optionsOf(m).nodeId}`);
      expect(scheduler.getCronJob(name).cronTime.source).toBe('*/15 * * * * *');
      // The cron job's next-run timeout and the heartbeat wheel's interval.
      expect(vi.getTimerCount()).toBeGreaterThanOrEqual(2);

      await m.close();
      module = undefined;
      expect(scheduler.doesExist('cron', name)).toBe(false);
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

  describe('in a testing module', () => {
    it('starts a registry given with overrideProvider(MANAGER_REGISTRY) in onModuleInit, and closes it', async () => {
      const registry = new InMemoryManagerRegistry();
      const starting = vi.spyOn(registry, 'start');
      const closing = vi.spyOn(registry, 'close');
      const m = await Test.createTestingModule({ imports: [ScheduleModule.forRoot(), WebSocketManagerModule.forRoot({ nodeId: 'tm' })] })
        .overrideProvider(MANAGER_REGISTRY)
        .useValue(registry)
        .compile();
      expect(starting).not.toHaveBeenCalled();
      await m.init();
      expect(starting).toHaveBeenCalledWith('tm');
      expect(m.get(WebSocketManagerFactory)).toBeInstanceOf(WebSocketManagerFactory);
      await m.close();
      expect(closing).toHaveBeenCalledTimes(1);
    });

    it('validates and completes a partial overrideProvider(WS_MANAGER_MODULE_OPTIONS)', async () => {
      module = await Test.createTestingModule({ imports: [ScheduleModule.forRoot(), WebSocketManagerModule.forRoot()] })
        .overrideProvider(WS_MANAGER_MODULE_OPTIONS)
        .useValue({ maxManagersPerUser: 2 })
        .compile();
      await module.init();
      expect(optionsOf(module)).toMatchObject({ ...WS_MANAGER_DEFAULTS, maxManagersPerUser: 2 });
    });

    it('refuses a partial overrideProvider(WS_MANAGER_OPTIONS) at init, leaving no timer behind', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
      const m = await Test.createTestingModule({ imports: [ScheduleModule.forRoot(), WebSocketManagerModule.forRoot()] })
        .overrideProvider(WS_MANAGER_OPTIONS)
        .useValue({ maxManagersPerUser: 2 })
        .compile();
      m.useLogger(false);
      await expect(m.init()).rejects.toThrow(/override WS_MANAGER_MODULE_OPTIONS/);
      expect(vi.getTimerCount()).toBe(0);
      await m.close().catch(() => undefined);
    });

    it('runs two module instances in one application without colliding on the sweep job', async () => {
      @Module({ imports: [WebSocketManagerModule.forRoot({ nodeId: 'same', maxManagersPerUser: 3 })] })
      class A {}
      @Module({ imports: [WebSocketManagerModule.forRoot({ nodeId: 'same', maxManagersPerUser: 4 })] })
      class B {}
      module = await Test.createTestingModule({ imports: [ScheduleModule.forRoot(), A, B] }).compile();
      module.useLogger(false);
      await module.init();
      const names = module.get(SchedulerRegistry).getCronJobs();
      expect([...names.keys()].sort()).toEqual([`${SWEEP_JOB_NAME}:same`, `${SWEEP_JOB_NAME}:same#2`]);
    });

    it('resolves an injectable identity resolver class with its own dependencies', async () => {
      const m = await boot(
        WebSocketManagerModule.forRootAsync({
          extraProviders: [{ provide: 'USERS', useValue: { t: 'ann' } }],
          useFactory: () => ({ identityResolver: TokenResolver }),
        }),
      );
      const identity = m.get(WebSocketIdentityService);
      expect(await identity.resolve({} as never)).toEqual({ userId: 'ann' });
    });
  });
});
