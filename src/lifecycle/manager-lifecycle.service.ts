import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { Subject, type Observable } from 'rxjs';
import { GuardedObservable } from './guarded-observable.js';
import { logSafe } from './log-safe.js';
import type { ManagerLifecycleEvent } from './manager-lifecycle.event.js';

type Without<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * The lifecycle of every manager (created, attached, detached, resumed, removed with reason) and
 * every admission decision, as one rxjs stream for metrics and logs to subscribe to. A
 * subscriber that throws is logged once and keeps its subscription; it never crashes the
 * process nor keeps the other subscribers from their events (see {@link GuardedObservable}).
 */
@Injectable()
export class ManagerLifecycleService implements OnModuleDestroy {
  private readonly logger = new Logger('WebSocketManager');
  private readonly subject = new Subject<ManagerLifecycleEvent>();

  /** Hot stream of lifecycle events; subscribers see events emitted after they subscribe. */
  readonly events$: Observable<ManagerLifecycleEvent> = new GuardedObservable<ManagerLifecycleEvent>(
    (subscriber) => this.subject.subscribe(subscriber),
    (error) =>
      this.logger.error(
        `a lifecycle events$ subscriber threw (logged once per subscription; it keeps receiving events): ` +
          logSafe(error instanceof Error ? (error.stack ?? error.message) : error, 2000),
      ),
  );

  /**
   * Publishes a copy of the event stamped with `at` (the caller's object is left alone: it may be
   * shared or frozen). With no subscriber at all nothing is done: admission emits several events.
   */
  emit(event: Without<ManagerLifecycleEvent, 'at'>): void {
    if (!this.subject.observed) return;
    this.subject.next({ ...event, at: Date.now() } as ManagerLifecycleEvent);
  }

  onModuleDestroy(): void {
    this.subject.complete();
  }
}
