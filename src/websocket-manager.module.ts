import { ConfigurableModuleBuilder, Module, type DynamicModule, type Provider } from '@nestjs/common';
import { EmergencyCleanupInterceptor } from './cleanup/emergency-cleanup.interceptor.js';
import { EmergencyCleanupService } from './cleanup/emergency-cleanup.service.js';
import { ScheduledSweepService } from './cleanup/scheduled-sweep.service.js';
import { MANAGER_REGISTRY, WS_MANAGER_MODULE_OPTIONS, WS_MANAGER_OPTIONS } from './config/ws-manager.constants.js';
import type { ResolvedWsManagerOptions, WsManagerOptions } from './config/ws-manager.options.js';
import { resolveWsManagerOptions } from './config/ws-manager.schema.js';
import { GovernedGatewaysCheck } from './gateway/governed-gateways.check.js';
import { WebSocketIdentityService } from './gateway/websocket-identity.service.js';
import { WebSocketSessions } from './gateway/websocket-sessions.service.js';
import { HealthAssessmentService } from './health/health-assessment.service.js';
import { HeartbeatService } from './heartbeat/heartbeat.service.js';
import { CleanupAlarmService } from './lifecycle/cleanup-alarm.service.js';
import { LifecycleEventEmitterBridge } from './lifecycle/lifecycle-event-emitter.bridge.js';
import { LifecycleLoggerService } from './lifecycle/lifecycle-logger.service.js';
import { ManagerLifecycleService } from './lifecycle/manager-lifecycle.service.js';
import { LocalManagerStore } from './managers/local-manager.store.js';
import { ManagerLedger } from './managers/manager-ledger.service.js';
import { ManagerReconciler } from './managers/manager-reconciler.service.js';
import { MessageDeliveryService } from './managers/message-delivery.service.js';
import { RegistryEventsService } from './managers/registry-events.service.js';
import { WebSocketManagerFactory } from './managers/websocket-manager.factory.js';
import { WS_METRICS_REGISTRY } from './metrics/metrics.constants.js';
import { WebSocketManagerMetrics, wsMetricsRegistryProvider } from './metrics/websocket-manager.metrics.js';
import { buildManagerRegistry } from './registry/create-manager-registry.js';
import { WebSocketManagerStartup } from './websocket-manager.startup.js';

/** Module-level settings besides the options (Nest's `ConfigurableModuleBuilder` extras). */
export interface WebSocketManagerModuleExtras {
  /** Register the module globally. @default false */
  isGlobal?: boolean;
  /** Extra providers of the module, e.g. for `forRootAsync`'s `inject`. @default [] */
  extraProviders?: Provider[];
}

/** Services of the module that other modules may inject. */
const EXPORTED_SERVICES = [
  LocalManagerStore,
  ManagerLedger,
  ManagerReconciler,
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
  MessageDeliveryService,
];

/** Every service of the module: the exported ones and those it keeps to itself. */
const SERVICES: Provider[] = [
  ...EXPORTED_SERVICES,
  LifecycleLoggerService,
  LifecycleEventEmitterBridge,
  WebSocketManagerStartup,
  GovernedGatewaysCheck,
];

const PROVIDERS: Provider[] = [
  {
    // What forRoot / forRootAsync / an overrideProvider(WS_MANAGER_MODULE_OPTIONS) gave, validated and completed.
    provide: WS_MANAGER_OPTIONS,
    inject: [WS_MANAGER_MODULE_OPTIONS],
    useFactory: (options: WsManagerOptions) => resolveWsManagerOptions(options),
  },
  {
    // Built here, started by WebSocketManagerStartup in onModuleInit.
    provide: MANAGER_REGISTRY,
    inject: [WS_MANAGER_OPTIONS],
    useFactory: (options: ResolvedWsManagerOptions) => buildManagerRegistry(options),
  },
  wsMetricsRegistryProvider,
  ...SERVICES,
];

const EXPORTS = [WS_MANAGER_OPTIONS, MANAGER_REGISTRY, WS_METRICS_REGISTRY, ...EXPORTED_SERVICES];

const { ConfigurableModuleClass, OPTIONS_TYPE, ASYNC_OPTIONS_TYPE } = new ConfigurableModuleBuilder<WsManagerOptions>({
  optionsInjectionToken: WS_MANAGER_MODULE_OPTIONS,
})
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createWebSocketManagerOptions')
  .setExtras<WebSocketManagerModuleExtras>({ isGlobal: false, extraProviders: [] }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal ?? false,
    providers: [...(definition.providers ?? []), ...(extras.extraProviders ?? []), ...PROVIDERS],
    exports: EXPORTS,
  }))
  .build();

/** Options of {@link WebSocketManagerModule.forRoot}: the module options plus `isGlobal` and `extraProviders`. */
export type WebSocketManagerModuleOptions = typeof OPTIONS_TYPE;

/**
 * Options of {@link WebSocketManagerModule.forRootAsync}: `imports`, `inject`, and one of
 * `useFactory`, `useClass` or `useExisting` (a class with `createWebSocketManagerOptions()`),
 * plus `isGlobal` and `extraProviders`.
 */
export type WebSocketManagerModuleAsyncOptions = typeof ASYNC_OPTIONS_TYPE;

/** What a `useClass` / `useExisting` options factory implements. */
export interface WebSocketManagerOptionsFactory {
  /** The module options; validated like `forRoot`'s. */
  createWebSocketManagerOptions(): WsManagerOptions | Promise<WsManagerOptions>;
}

/**
 * Per-user WebSocket managers with real liveness, health classes and progressive cleanup.
 * `forRoot(options)` or `forRootAsync({ imports, inject, useFactory | useClass | useExisting })`
 * (Nest's `ConfigurableModuleBuilder`; `isGlobal` inside the options). The host application
 * imports `ScheduleModule.forRoot()` once; this module never does.
 */
@Module({})
export class WebSocketManagerModule extends ConfigurableModuleClass {
  /** Registers the module with static options (validated now too, so a bad value throws at the call). */
  static override forRoot(options: WebSocketManagerModuleOptions = {}): DynamicModule {
    const { isGlobal: _global, extraProviders: _extra, ...moduleOptions } = options;
    resolveWsManagerOptions(moduleOptions);
    return super.forRoot(options);
  }

  /** Registers the module with options from a factory, a class or an existing provider (validated when they resolve). */
  static override forRootAsync(options: WebSocketManagerModuleAsyncOptions): DynamicModule {
    return super.forRootAsync(options);
  }
}
