// The public API of nestjs-websocket-manager, by name.
export {
  WebSocketManagerModule,
  type WebSocketManagerModuleOptions,
  type WebSocketManagerModuleAsyncOptions,
  type WebSocketManagerModuleExtras,
  type WebSocketManagerOptionsFactory,
} from './websocket-manager.module.js';
export { WebSocketManagerStartup } from './websocket-manager.startup.js';

export { WS_MANAGER_OPTIONS, WS_MANAGER_MODULE_OPTIONS, MANAGER_REGISTRY, SWEEP_JOB_NAME } from './config/ws-manager.constants.js';
export { WS_MANAGER_DEFAULTS } from './config/ws-manager.defaults.js';
export type { WsManagerOptions, ResolvedWsManagerOptions, RegistryKind } from './config/ws-manager.options.js';
export { resolveWsManagerOptions } from './config/ws-manager.schema.js';
export { wsManagerOptionsFromEnv, WS_ENV_VARIABLES } from './config/ws-manager-options.from-env.js';

export { WebSocketManagerFactory, CONTEXT_PATTERN, type AcquireRequest, type Admission } from './managers/websocket-manager.factory.js';
export { WebSocketManager, CloseCodes } from './managers/websocket-manager.js';
export { ManagedConnection, type SendLimit } from './managers/managed-connection.js';
export { ConnectionList } from './managers/connection-list.js';
export { sendBounded, SLOW_CONSUMER_CLOSE_CODE, SLOW_CONSUMER_REASON, type BoundedSendResult } from './managers/bounded-send.js';
export { LocalManagerStore } from './managers/local-manager.store.js';
export { ManagerLedger, type Confirmation, type Removal } from './managers/manager-ledger.service.js';
export { ManagerReconciler, type ReRegistration } from './managers/manager-reconciler.service.js';
export { RegistryEventsService } from './managers/registry-events.service.js';
export { MessageDeliveryService } from './managers/message-delivery.service.js';
export type { DeliveryResult, InstanceDelivery, DeliveryOptions } from './managers/delivery-result.js';

export { HealthAssessmentService } from './health/health-assessment.service.js';
export { HealthClass, HealthReason, type HealthAssessment } from './health/health-class.js';
export { HeartbeatService } from './heartbeat/heartbeat.service.js';

export { CleanupLevel, CLEANUP_LEVELS, isCleanupLevel } from './cleanup/cleanup-level.js';
export { EmergencyCleanupService, type UserCleanupPlan } from './cleanup/emergency-cleanup.service.js';
export { EmergencyCleanupInterceptor, type ManagerLimitReachedPayload } from './cleanup/emergency-cleanup.interceptor.js';
export { ScheduledSweepService, type SweepStatus } from './cleanup/scheduled-sweep.service.js';
export { selectCleanupCandidates, type CleanupCandidate } from './cleanup/cleanup-candidates.js';
export type { CleanupReport, CleanupLevelReport, ProbeReport } from './cleanup/cleanup-report.js';

export type { ManagerRegistry, AdmitResult, EvictionRequest, RecordPage } from './registry/manager-registry.interface.js';
export type { ManagerRecord, ManagerRecordPatch } from './registry/manager-record.js';
export { InMemoryManagerRegistry } from './registry/in-memory-manager.registry.js';
// RedisManagerRegistry is exported from 'nestjs-websocket-manager/redis': its types name ioredis's,
// and the main entry must type-check (skipLibCheck: false) in an application without ioredis.
// `registry: 'redis'` needs no import of it: the module loads it (and ioredis) on demand.

export { ManagerLifecycleService } from './lifecycle/manager-lifecycle.service.js';
export { logSafe, hasUnsafeCharacters } from './lifecycle/log-safe.js';
export { retryAfter, MIN_RETRY_AFTER_MS, type RetryAfter, type RetryAfterReason } from './cleanup/retry-after.js';
export { LifecycleEventEmitterBridge, LIFECYCLE_EVENT_PREFIX } from './lifecycle/lifecycle-event-emitter.bridge.js';
export type { ManagerLifecycleEvent, ManagerLifecycleEventType, CleanupTrigger } from './lifecycle/manager-lifecycle.event.js';

export * from './errors/index.js';
export * from './gateway/index.js';

export * from './metrics/index.js';
export { CleanupAlarmService, isEmergencyCleanupFailure } from './lifecycle/cleanup-alarm.service.js';
export { LifecycleLoggerService, formatCleanupReport } from './lifecycle/lifecycle-logger.service.js';
// WebSocketManagerHealthIndicator and WebSocketManagerHealthModule need @nestjs/terminus: they are
// exported from 'nestjs-websocket-manager/terminus' so that the main entry does not load terminus.

export * from './admin/index.js';
