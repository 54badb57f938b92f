import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { CronTime } from 'cron';
import { ScheduledSweepService } from '../cleanup/scheduled-sweep.service.js';
import { MANAGER_REGISTRY, WS_MANAGER_OPTIONS } from '../config/ws-manager.constants.js';
import type { ResolvedWsManagerOptions } from '../config/ws-manager.options.js';
import { LocalManagerStore } from '../managers/local-manager.store.js';
import { censusLocalManagers } from '../metrics/local-manager-counts.js';
import type { ManagerRegistry } from '../registry/manager-registry.interface.js';

/** Options of {@link WebSocketManagerHealthIndicator.isHealthy}. */
export interface WebSocketManagerHealthCheckOptions {
  /** How long `registry.ping()` may take before the registry counts as unreachable. @default 1000 */
  pingTimeoutMs?: number;
  /** Cron periods without a finished sweep (since bootstrap) after which the check is degraded. @default 3 */
  missedSweeps?: number;
}

/** The details reported with the `up`/`degraded`/`down` status. */
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
  /** Why the check is not up; absent when up. */
  message?: string;
}

/** The module's services the indicator reads. */
interface Sources {
  options: ResolvedWsManagerOptions;
  registry: ManagerRegistry;
  store: LocalManagerStore;
  sweep: ScheduledSweepService;
}

/**
 * Terminus health indicator of the module (terminus' `HealthIndicatorService`):
 * - `down` when `registry.ping()` answers false, throws or does not answer within
 *   `pingTimeoutMs` (terminus' own `attempt(...).withTimeout(...)`): Redis unreachable, 503;
 * - `degraded` (terminus keeps answering 200) when the scheduled sweep has not finished for
 *   `missedSweeps` cron periods since bootstrap: sessions still work, cleanup is late;
 * - `up` otherwise, always with {@link WebSocketManagerHealthDetails}.
 *
 * Import {@link WebSocketManagerHealthModule} where your health controller lives: it provides
 * and exports this indicator and finds the `WebSocketManagerModule` of the application itself,
 * so neither module has to be global.
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
  private sources: Sources | undefined;

  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly moduleRef: ModuleRef,
  ) {}

  onApplicationBootstrap(): void {
    this.bootstrappedAt = Date.now();
  }

  /** Checks the registry and the sweep; never throws (terminus reads the status from the result). */
  async isHealthy<const Key extends string = 'websocket'>(
    key: Key = 'websocket' as Key,
    options: WebSocketManagerHealthCheckOptions = {},
  ): Promise<HealthIndicatorResult<Key>> {
    const { pingTimeoutMs = 1000, missedSweeps = 3 } = options;
    const { options: moduleOptions, registry, store, sweep } = this.lookUp();
    const session = this.indicators.check(key);
    const now = Date.now();
    const status = sweep.getStatus();
    const counts = await censusLocalManagers(store);
    const details: WebSocketManagerHealthDetails = {
      registry: registry.kind,
      managers: counts.connected + counts.detached,
      connections: counts.connections,
      lastSweepZombies: status.lastZombies,
      lastSweepAgeMs: status.lastFinishedAt === null ? null : now - status.lastFinishedAt,
    };

    const pinged = await session
      .attempt(async () => {
        if (!(await registry.ping())) throw new Error('ping failed');
      })
      .withTimeout(pingTimeoutMs);
    const answer = pinged[key] as { status: string; message?: string };
    if (answer.status !== 'up') {
      return session.down({ ...details, message: `registry (${registry.kind}) unreachable: ${answer.message ?? 'no answer'}` });
    }

    const periodMs = cronPeriodMs(moduleOptions.cleanupCron, now);
    const since = Math.max(status.lastFinishedAt ?? 0, this.bootstrappedAt);
    if (now - since > missedSweeps * periodMs) {
      const last = status.lastFinishedAt === null ? 'no sweep has finished' : `the last sweep finished ${now - since} ms ago`;
      return session.degraded({ ...details, message: `${last}; expected one every ${periodMs} ms (${moduleOptions.cleanupCron})` });
    }
    return session.up(details);
  }

  /** The module's services, found wherever `WebSocketManagerModule` was imported. */
  private lookUp(): Sources {
    this.sources ??= {
      options: this.moduleRef.get<ResolvedWsManagerOptions>(WS_MANAGER_OPTIONS, { strict: false }),
      registry: this.moduleRef.get<ManagerRegistry>(MANAGER_REGISTRY, { strict: false }),
      store: this.moduleRef.get(LocalManagerStore, { strict: false }),
      sweep: this.moduleRef.get(ScheduledSweepService, { strict: false }),
    };
    return this.sources;
  }
}

/** How long a computed cron period is reused: its next fire times move on, slowly. */
const CRON_PERIOD_TTL_MS = 60_000;
const cronPeriods = new Map<string, { periodMs: number; at: number }>();

/**
 * The longest gap between the next few fire times of a cron expression, in ms. Computing it
 * takes 2 ms for `*\/30 * * * * *` and 15–35 ms for a yearly schedule (luxon), so a health
 * probe polled every few seconds reuses it for a minute; an irregular schedule (weekdays only)
 * changes its gaps over days, not within a minute.
 */
function cronPeriodMs(expression: string, now = Date.now()): number {
  const cached = cronPeriods.get(expression);
  // A clock set back is not a reason to keep a value: recomputed then too.
  if (cached && now >= cached.at && now - cached.at < CRON_PERIOD_TTL_MS) return cached.periodMs;
  const periodMs = measureCronPeriodMs(expression);
  cronPeriods.set(expression, { periodMs, at: now });
  return periodMs;
}

function measureCronPeriodMs(expression: string): number {
  const fires = new CronTime(expression).sendAt(5).map((t) => t.toMillis());
  let period = 0;
  for (let i = 1; i < fires.length; i++) period = Math.max(period, fires[i]! - fires[i - 1]!);
  return period;
}
