// The public API of nestjs-websocket-manager, by name.
export { WebSocketManagerModule, type WebSocketManagerModuleAsyncOptions } from './websocket-manager.module.js';

export { WS_MANAGER_OPTIONS, MANAGER_REGISTRY, SWEEP_JOB_NAME } from './config/ws-manager.constants.js';
export { WS_MANAGER_DEFAULTS } from './config/ws-manager.defaults.js';
export type { WsManagerOptions, ResolvedWsManagerOptions, RegistryKind } from './config/ws-manager.options.js';
export { resolveWsManagerOptions } from './config/ws-manager.schema.js';
export { wsManagerOptionsFromEnv, WS_ENV_VARIABLES } from './config/ws-manager-options.from-env.js';

export { WebSocketManagerFactory, CONTEXT_PATTERN, type AcquireRequest, type Admission } from './managers/websocket-manager.factory.js';
export { WebSocketManager, CloseCodes } from './managers/websocket-manager.js';
export { ManagedConnection } from './managers/managed-connection.js';
export { LocalManagerStore } from './managers/local-manager.store.js';
export { ManagerLedger, type Confirmation, type Removal, type ReRegistration } from './managers/manager-ledger.service.js';
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
// ioredis is imported only when a RedisManagerRegistry starts, so this export costs memory users nothing.
export * from './registry/redis/index.js';

export { ManagerLifecycleService } from './lifecycle/manager-lifecycle.service.js';
export type { ManagerLifecycleEvent, ManagerLifecycleEventType, CleanupTrigger } from './lifecycle/manager-lifecycle.event.js';

export * from './errors/index.js';
export * from './gateway/index.js';

export * from './metrics/index.js';
export { CleanupAlarmService, isEmergencyCleanupFailure } from './lifecycle/cleanup-alarm.service.js';
export { LifecycleLoggerService, formatCleanupReport } from './lifecycle/lifecycle-logger.service.js';
// WebSocketManagerHealthIndicator needs @nestjs/terminus: it is exported from
// 'nestjs-websocket-manager/terminus' so that the main entry does not load terminus.
