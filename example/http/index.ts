import type { DynamicModule, Provider, Type } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { WebSocketManagerHealthModule } from '../../src/terminus.js';
import { AdminTokenGuard } from './admin-token.guard.js';
import { AdminController } from './admin.controller.js';
import { HealthController } from './health.controller.js';
import { MetricsController } from './metrics.controller.js';

export { AdminController, toInventoryEntry, type ManagerInventoryEntry } from './admin.controller.js';
export { AdminTokenGuard } from './admin-token.guard.js';
export { HealthController } from './health.controller.js';
export { MetricsController } from './metrics.controller.js';

/**
 * Modules the HTTP endpoints need, for the application module's `imports` (next to a global
 * `ConfigModule`, `ScheduleModule.forRoot()` and `WebSocketManagerModule`).
 */
export const HTTP_IMPORTS: (DynamicModule | Type)[] = [TerminusModule.forRoot({ errorLogStyle: 'pretty' }), WebSocketManagerHealthModule];

/** `GET /health`, `GET /metrics` and the admin API, for the application module's `controllers`. */
export const HTTP_CONTROLLERS: Type[] = [HealthController, MetricsController, AdminController];

/** Providers of the HTTP endpoints, for the application module's `providers`. */
export const HTTP_PROVIDERS: Provider[] = [AdminTokenGuard];
