import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  EmergencyCleanupService,
  HealthAssessmentService,
  MANAGER_REGISTRY,
  ManagerLifecycleService,
  ScheduledSweepService,
  WebSocketManagerFactory,
  WebSocketManagerModule,
  type ManagerRegistry,
  type WsManagerOptions,
} from '../../src/index.js';

/** A compiled, initialised module with the services a test needs. */
export interface ManagerTestBed {
  module: TestingModule;
  factory: WebSocketManagerFactory;
  health: HealthAssessmentService;
  cleanup: EmergencyCleanupService;
  sweep: ScheduledSweepService;
  lifecycle: ManagerLifecycleService;
  registry: ManagerRegistry;
  close(): Promise<void>;
}

/** Builds the module as a host app would: `ScheduleModule.forRoot()` plus `forRoot(options)`. */
export async function createManagerTestBed(options: WsManagerOptions = {}): Promise<ManagerTestBed> {
  const module = await Test.createTestingModule({
    imports: [ScheduleModule.forRoot(), WebSocketManagerModule.forRoot({ cleanupCron: '0 0 0 1 1 *', ...options })],
  }).compile();
  module.useLogger(false);
  await module.init();
  return {
    module,
    factory: module.get(WebSocketManagerFactory),
    health: module.get(HealthAssessmentService),
    cleanup: module.get(EmergencyCleanupService),
    sweep: module.get(ScheduledSweepService),
    lifecycle: module.get(ManagerLifecycleService),
    registry: module.get<ManagerRegistry>(MANAGER_REGISTRY),
    close: () => module.close(),
  };
}
