import { Controller, Get, Module, type DynamicModule, type Type } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule, type HealthCheckResult } from '@nestjs/terminus';
import { WebSocketManagerHealthIndicator, type WebSocketManagerHealthCheckOptions } from './websocket-manager.health-indicator.js';

/** Options of {@link WebSocketManagerHealthModule.forRoot}. */
export interface WebSocketManagerHealthModuleOptions extends WebSocketManagerHealthCheckOptions {
  /** Path of the health endpoint; `false`: no controller, only the indicator is provided. @default 'health' */
  path?: string | false;
  /** Key of the module's entry in the Terminus result. @default 'websocket' */
  key?: string;
}

/**
 * Terminus wiring of the module (from `nestjs-websocket-manager/terminus`). It reads the
 * application's `WebSocketManagerModule` wherever that was imported, so nothing has to be global.
 * - `imports: [WebSocketManagerHealthModule]`: provides and exports
 *   {@link WebSocketManagerHealthIndicator}, for a health controller of your own;
 * - `WebSocketManagerHealthModule.forRoot()`: the same, and serves `GET /<path>`: 200 while up,
 *   503 when the registry (Redis) is unreachable or the sweep stopped.
 */
@Module({
  imports: [TerminusModule],
  providers: [WebSocketManagerHealthIndicator],
  exports: [WebSocketManagerHealthIndicator],
})
export class WebSocketManagerHealthModule {
  /** Registers the indicator and the endpoint. */
  static forRoot(options: WebSocketManagerHealthModuleOptions = {}): DynamicModule {
    const { path = 'health', key = 'websocket', ...check } = options;
    const controllers: Type[] = [];
    if (path !== false) {
      @Controller(path)
      class WebSocketManagerHealthController {
        constructor(
          private readonly health: HealthCheckService,
          private readonly websocket: WebSocketManagerHealthIndicator,
        ) {}

        @Get()
        @HealthCheck()
        check(): Promise<HealthCheckResult> {
          return this.health.check([() => this.websocket.isHealthy(key, check)]);
        }
      }
      controllers.push(WebSocketManagerHealthController);
    }
    return {
      module: WebSocketManagerHealthModule,
      imports: [TerminusModule.forRoot({ errorLogStyle: 'pretty' })],
      controllers,
      providers: [WebSocketManagerHealthIndicator],
      exports: [WebSocketManagerHealthIndicator],
    };
  }
}
