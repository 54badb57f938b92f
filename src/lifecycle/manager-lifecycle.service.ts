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
   * Publishes an event, stamping `at` with the current time. The object given is stamped and
   * published as is (callers pass a fresh literal): no copy per event. With no subscriber at all
   * nothing is done: admission emits several events and the benchmark counted each.
   */
  emit(event: Without<ManagerLifecycleEvent, 'at'>): void {
    if (!this.subject.observed) return;
    const stamped = event as ManagerLifecycleEvent;
    stamped.at = Date.now();
    this.subject.next(stamped);
  }

  onModuleDestroy(): void {
    this.subject.complete();
  }
}
