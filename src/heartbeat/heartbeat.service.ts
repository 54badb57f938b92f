import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { WS_MANAGER_OPTIONS } from '../config/ws-manager.constants.js';
import type { ResolvedWsManagerOptions } from '../config/ws-manager.options.js';
import { logSafe } from '../lifecycle/log-safe.js';
import { ManagerLifecycleService } from '../lifecycle/manager-lifecycle.service.js';
import type { ManagedConnection, SendLimit } from '../managers/managed-connection.js';

/** Connections pinged per event-loop turn. */
const PING_SLICE = 100;

/**
 * Protocol ping/pong for every tracked connection on one timer: a wheel whose slots are visited
 * in turn, so pings are spread over the interval instead of firing all at once. A ping still
 * unanswered `heartbeatTimeoutMs` later terminates the connection (detected within
 * interval + timeout plus one tick). Only the pong echoing the current ping's payload counts.
 *
 * It also arms each tracked connection's send-buffer cap (`maxBufferedBytes`): liveness and
 * "does this peer keep up with what we send" are watched for the same set of connections.
 * Every timer callback is guarded: one throw is logged (once a minute at most), never fatal.
 */
@Injectable()
export class HeartbeatService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly tickMs: number;
  private readonly slots: Set<ManagedConnection>[];
  private readonly deadlines = new Map<number, ManagedConnection[]>();
  private readonly slotOf = new Map<ManagedConnection, number>();
  private nextSlot = 0;
  private tickCount = 0;
  private timer?: NodeJS.Timeout;
  private readonly logger = new Logger('WebSocketManager');
  private lastErrorLogAt = Number.NEGATIVE_INFINITY;
  private readonly sendLimit: SendLimit;

  constructor(
    @Inject(WS_MANAGER_OPTIONS) private readonly options: ResolvedWsManagerOptions,
    private readonly lifecycle: ManagerLifecycleService,
  ) {
    // 100 slots per interval: small bursts of pings, and of the pongs that come back together.
    this.tickMs = Math.min(1000, Math.max(5, Math.floor(options.heartbeatIntervalMs / 100)));
    const slotCount = Math.max(1, Math.round(options.heartbeatIntervalMs / this.tickMs));
    this.slots = Array.from({ length: slotCount }, () => new Set());
    this.sendLimit = {
      maxBufferedBytes: options.maxBufferedBytes,
      onSlowConsumer: (connection) =>
        this.lifecycle.emit({ type: 'slow_consumer_closed', userId: connection.userId, connectionId: connection.id }),
    };
  }

  /** Connections being watched. */
  get size(): number {
    return this.slotOf.size;
  }

  onApplicationBootstrap(): void {
    this.timer ??= setInterval(() => this.guarded(() => this.tick()), this.tickMs);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Starts watching a connection. */
  track(connection: ManagedConnection): void {
    if (this.slotOf.has(connection)) return;
    connection.sendLimit = this.sendLimit;
    // Into the half of the wheel visited last (the slot pinged most recently comes round again
    // after a whole interval): a connection that just connected is first pinged between half
    // an interval and an interval later, not in the next tick; new connections are spread over
    // those slots in turn. (Round-robin over the whole wheel pinged a tenth of an admission
    // burst within its first seconds.)
    const count = this.slots.length;
    const half = Math.max(1, Math.floor(count / 2));
    const slot = (((this.tickCount - 1 - (this.nextSlot++ % half)) % count) + count) % count;
    this.slots[slot]!.add(connection);
    this.slotOf.set(connection, slot);
  }

  /** Stops watching a connection. */
  untrack(connection: ManagedConnection): void {
    const slot = this.slotOf.get(connection);
    if (slot === undefined) return;
    this.slots[slot]!.delete(connection);
    this.slotOf.delete(connection);
  }

  /** One turn of the wheel: expire due deadlines, then ping one slot. */
  tick(now = Date.now()): void {
    const tick = this.tickCount++;
    const due = this.deadlines.get(tick);
    if (due) {
      this.deadlines.delete(tick);
      for (const connection of due) {
        if (connection.pingSentAt === null || !this.slotOf.has(connection)) continue;
        // A timer that fired a little early re-checks on the next tick rather than a full turn later.
        if (!this.expireIfOverdue(connection, now)) this.addDeadline(tick + 1, connection);
      }
    }
    const slot = this.slots[tick % this.slots.length]!;
    if (slot.size > 0) this.pingSlice([...slot], 0, tick);
  }

  /**
   * Pings `PING_SLICE` connections, then yields to the event loop before the next slice: at
   * 10k sockets a slot holds hundreds, and pinging them in one go blocked the loop for tens of ms.
   */
  private pingSlice(connections: ManagedConnection[], from: number, tick: number): void {
    const now = Date.now();
    const timeoutTicks = Math.ceil(this.options.heartbeatTimeoutMs / this.tickMs);
    const end = Math.min(connections.length, from + PING_SLICE);
    for (let i = from; i < end; i++) {
      const connection = connections[i]!;
      if (!this.slotOf.has(connection)) continue;
      if (connection.isClosed) {
        this.untrack(connection);
        continue;
      }
      if (connection.pingSentAt !== null) {
        this.expireIfOverdue(connection, now);
        continue;
      }
      if (!connection.ping(now)) continue;
      this.addDeadline(tick + timeoutTicks, connection);
    }
    if (end < connections.length) setImmediate(() => this.guarded(() => this.pingSlice(connections, end, tick)));
  }

  /** Runs a timer callback so that a throw is logged (at most once a minute), never fatal. */
  private guarded(run: () => void): void {
    try {
      run();
    } catch (error) {
      const now = Date.now();
      if (now - this.lastErrorLogAt < 60_000) return;
      this.lastErrorLogAt = now;
      this.logger.error(`heartbeat tick failed: ${logSafe(error instanceof Error ? (error.stack ?? error.message) : error, 2000)}`);
    }
  }

  private addDeadline(tick: number, connection: ManagedConnection): void {
    const bucket = this.deadlines.get(tick);
    if (bucket) bucket.push(connection);
    else this.deadlines.set(tick, [connection]);
  }

  private expireIfOverdue(connection: ManagedConnection, now: number): boolean {
    if (!this.slotOf.has(connection) || !connection.isPongOverdue(this.options.heartbeatTimeoutMs, now)) return false;
    connection.pongMissed = true;
    this.untrack(connection);
    try {
      connection.socket.terminate();
    } catch {
      // terminate() throws only for a socket that never connected: nothing left to release.
    }
    this.lifecycle.emit({ type: 'heartbeat_terminated', userId: connection.userId, connectionId: connection.id });
    return true;
  }
}
