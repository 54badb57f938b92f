import {
  Inject,
  Module,
  type DynamicModule,
  type InjectionToken,
  type ModuleMetadata,
  type OnApplicationShutdown,
  type OptionalFactoryDependency,
  type Provider,
} from '@nestjs/common';
import { EmergencyCleanupInterceptor } from './cleanup/emergency-cleanup.interceptor.js';
import { EmergencyCleanupService } from './cleanup/emergency-cleanup.service.js';
import { ScheduledSweepService } from './cleanup/scheduled-sweep.service.js';
import { MANAGER_REGISTRY, WS_MANAGER_OPTIONS } from './config/ws-manager.constants.js';
import type { ResolvedWsManagerOptions, WsManagerOptions } from './config/ws-manager.options.js';
import { resolveWsManagerOptions } from './config/ws-manager.schema.js';
import { HealthAssessmentService } from './health/health-assessment.service.js';
import { HeartbeatService } from './heartbeat/heartbeat.service.js';
import { ManagerLifecycleService } from './lifecycle/manager-lifecycle.service.js';
import { LocalManagerStore } from './managers/local-manager.store.js';
import { ManagerLedger } from './managers/manager-ledger.service.js';
import { MessageDeliveryService } from './managers/message-delivery.service.js';
import { RegistryEventsService } from './managers/registry-events.service.js';
import { WebSocketManagerFactory } from './managers/websocket-manager.factory.js';
import { createManagerRegistry } from './registry/create-manager-registry.js';
import { CleanupAlarmService } from './lifecycle/cleanup-alarm.service.js';
import { LifecycleLoggerService } from './lifecycle/lifecycle-logger.service.js';
import { WS_METRICS_REGISTRY } from './metrics/metrics.constants.js';
import { WebSocketManagerMetrics, wsMetricsRegistryProvider } from './metrics/websocket-manager.metrics.js';
import type { ManagerRegistry } from './registry/manager-registry.interface.js';

/** Options of {@link WebSocketManagerModule.forRootAsync}. */
export interface WebSocketManagerModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** Providers injected into `useFactory`, in order. */
  inject?: (InjectionToken | OptionalFactoryDependency)[];
  /** Returns the module options; they are validated like `forRoot`'s. */
  // oxlint-disable-next-line typescript/no-explicit-any -- same signature as Nest's own factory providers
  useFactory: (...args: any[]) => WsManagerOptions | Promise<WsManagerOptions>;
  /** Extra providers made available to `useFactory`'s injections. */
  extraProviders?: Provider[];
  /** Register the module globally. @default false */
  isGlobal?: boolean;
}

/** Services other modules may inject. */
const EXPORTED_SERVICES = [
  LocalManagerStore,
  ManagerLedger,
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
  MessageDeliveryService,
];

const SERVICES = [...EXPORTED_SERVICES, wsMetricsRegistryProvider, LifecycleLoggerService];

const EXPORTS = [WS_MANAGER_OPTIONS, MANAGER_REGISTRY, WS_METRICS_REGISTRY, ...EXPORTED_SERVICES];

const registryProvider: Provider = {
  provide: MANAGER_REGISTRY,
  inject: [WS_MANAGER_OPTIONS],
  useFactory: (options: ResolvedWsManagerOptions) => createManagerRegistry(options),
};

/**
 * Per-user WebSocket managers with real liveness, health classes and progressive cleanup.
 * The host application imports `ScheduleModule.forRoot()` once; this module never does.
 */
@Module({})
export class WebSocketManagerModule implements OnApplicationShutdown {
  constructor(@Inject(MANAGER_REGISTRY) private readonly registry: ManagerRegistry) {}

  /** Registers the module with static options (validated now; a bad value throws). */
  static forRoot(options: WsManagerOptions = {}, isGlobal = false): DynamicModule {
    const resolved = resolveWsManagerOptions(options);
    return {
      module: WebSocketManagerModule,
      global: isGlobal,
      providers: [{ provide: WS_MANAGER_OPTIONS, useValue: resolved }, registryProvider, ...SERVICES],
      exports: EXPORTS,
    };
  }

  /** Registers the module with options from a factory (validated when it resolves). */
  static forRootAsync(options: WebSocketManagerModuleAsyncOptions): DynamicModule {
    return {
      module: WebSocketManagerModule,
      global: options.isGlobal ?? false,
      imports: options.imports ?? [],
      providers: [
        ...(options.extraProviders ?? []),
        {
          provide: WS_MANAGER_OPTIONS,
          inject: options.inject ?? [],
          useFactory: async (...args: unknown[]) => resolveWsManagerOptions(await options.useFactory(...args)),
        },
        registryProvider,
        ...SERVICES,
      ],
      exports: EXPORTS,
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.registry.close();
  }
}
