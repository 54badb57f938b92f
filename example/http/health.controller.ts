import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import { WebSocketManagerHealthIndicator } from '../../src/terminus.js';

/**
 * `GET /health`: Terminus JSON, 200 while the module is up, 503 when the registry (Redis) is
 * unreachable or the scheduled sweep has stopped running.
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly websocket: WebSocketManagerHealthIndicator,
  ) {}

  /** Runs every health indicator of the application. */
  @Get()
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return this.health.check([() => this.websocket.isHealthy('websocket')]);
  }
}
