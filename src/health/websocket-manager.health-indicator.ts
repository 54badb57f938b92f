import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { CronTime } from 'cron';
import { ScheduledSweepService } from '../cleanup/scheduled-sweep.service.js';
import { MANAGER_REGISTRY, WS_MANAGER_OPTIONS } from '../config/ws-manager.constants.js';
import type { ResolvedWsManagerOptions } from '../config/ws-manager.options.js';
import { LocalManagerStore } from '../managers/local-manager.store.js';
import { countLocalManagers } from '../metrics/local-manager-counts.js';
import type { ManagerRegistry } from '../registry/manager-registry.interface.js';

/** Options of {@link WebSocketManagerHealthIndicator.isHealthy}. */
export interface WebSocketManagerHealthCheckOptions {
  /** How long `registry.ping()` may take before the registry counts as unreachable. @default 1000 */
  pingTimeoutMs?: number;
  /** Cron periods without a finished sweep (since bootstrap) after which the check is down. @default 3 */
  missedSweeps?: number;
}

/** The details reported with the `up`/`down` status. */
export interface WebSocketManagerHealthDetails extends Record<string, unknown> {
  /** Registry implementation (`memory`, `redis`). */
  registry: string;
  /** Managers held by this instance. */
  managers: number;
  /** Open connections held by this instance. */
  connections: number;
  /** Zombies the last scheduled sweep found. */
  lastSweepZombies: number;
  /** Milliseconds since the last sweep finished; `null` before the first. */
  lastSweepAgeMs: number | null;
  /** Why the check is down; absent when up. */
  message?: string;
}

/**
 * Terminus health indicator of the module: `up` with {@link WebSocketManagerHealthDetails};
 * `down` when `registry.ping()` answers false, throws or times out (Redis unreachable), or when
 * the scheduled sweep has not finished for `missedSweeps` cron periods since bootstrap (the
 * period is the longest gap between the next fire times of `cleanupCron`).
 *
 * It needs `HealthIndicatorService`, so provide it in a module that imports `TerminusModule`
 * and `WebSocketManagerModule`:
 * ```ts
 * @Controller('health')
 * class HealthController {
 *   constructor(private readonly health: HealthCheckService, private readonly ws: WebSocketManagerHealthIndicator) {}
 *   @Get() @HealthCheck() check() { return this.health.check([() => this.ws.isHealthy('websocket')]); }
 * }
 * ```
 */
@Injectable()
export class WebSocketManagerHealthIndicator implements OnApplicationBootstrap {
  private bootstrappedAt = Date.now();

  constructor(
    private readonly indicators: HealthIndicatorService,
    @Inject(WS_MANAGER_OPTIONS) private readonly options: ResolvedWsManagerOptions,
    @Inject(MANAGER_REGISTRY) private readonly registry: ManagerRegistry,
    private readonly store: LocalManagerStore,
    private readonly sweep: ScheduledSweepService,
  ) {}

  onApplicationBootstrap(): void {
    this.bootstrappedAt = Date.now();
  }

  /** Checks the registry and the sweep; never throws (terminus reads `down` from the result). */
  async isHealthy<const Key extends string = 'websocket'>(
    key: Key = 'websocket' as Key,
    options: WebSocketManagerHealthCheckOptions = {},
  ): Promise<HealthIndicatorResult<Key>> {
    const { pingTimeoutMs = 1000, missedSweeps = 3 } = options;
    const session = this.indicators.check(key);
    const now = Date.now();
    const status = this.sweep.getStatus();
    const counts = countLocalManagers(this.store);
    const details: WebSocketManagerHealthDetails = {
      registry: this.registry.kind,
      managers: counts.connected + counts.detached,
      connections: counts.connections,
      lastSweepZombies: status.lastZombies,
      lastSweepAgeMs: status.lastFinishedAt === null ? null : now - status.lastFinishedAt,
    };

    const unreachable = await this.pingFails(pingTimeoutMs);
    if (unreachable) return session.down({ ...details, message: `registry (${this.registry.kind}) unreachable: ${unreachable}` });

    const periodMs = cronPeriodMs(this.options.cleanupCron);
    const since = Math.max(status.lastFinishedAt ?? 0, this.bootstrappedAt);
    if (now - since > missedSweeps * periodMs) {
      const last = status.lastFinishedAt === null ? 'no sweep has finished' : `the last sweep finished ${now - since} ms ago`;
      return session.down({ ...details, message: `${last}; expected one every ${periodMs} ms (${this.options.cleanupCron})` });
    }
    return session.up(details);
  }

  /** `null` when the registry answered, else why not. */
  private async pingFails(timeoutMs: number): Promise<string | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`ping timed out after ${timeoutMs} ms`), timeoutMs);
    });
    try {
      const answer = await Promise.race([this.registry.ping().then((ok) => (ok ? null : 'ping failed')), timeout]);
      return answer;
    } catch (error) {
      return `ping threw: ${error instanceof Error ? error.message : String(error)}`;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The longest gap between the next few fire times of a cron expression, in ms. */
function cronPeriodMs(expression: string): number {
  const fires = new CronTime(expression).sendAt(5).map((t) => t.toMillis());
  let period = 0;
  for (let i = 1; i < fires.length; i++) period = Math.max(period, fires[i]! - fires[i - 1]!);
  return period;
}
