import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { Subscription, type Observable } from 'rxjs';
import { GuardedObservable } from './guarded-observable.js';
import { logSafe } from './log-safe.js';
import type { ManagerLifecycleEvent } from './manager-lifecycle.event.js';

type Without<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A plain synchronous lifecycle listener (see {@link ManagerLifecycleService.listen}). */
export type LifecycleListener = (event: ManagerLifecycleEvent) => void;

/**
 * The lifecycle of every manager (created, attached, detached, resumed, removed with reason) and
 * every admission decision, as one rxjs stream for metrics and logs to subscribe to. A
 * subscriber that throws is logged once and keeps its subscription; it never crashes the
 * process nor keeps the other subscribers from their events (see {@link GuardedObservable}).
 *
 * Admission emits several events per socket, so the dispatch is a plain loop over listeners
 * (an rxjs Subject cost ~30 µs per admission in the benchmark's profiles); `events$` is built on it.
 */
@Injectable()
export class ManagerLifecycleService implements OnModuleDestroy {
  private readonly logger = new Logger('WebSocketManager');
  /** Replaced, never mutated, on (un)subscribe: an emit iterates the array it started with. */
  private listeners: readonly LifecycleListener[] = [];
  private readonly completions = new Set<() => void>();

  /** Hot stream of lifecycle events; subscribers see events emitted after they subscribe. */
  readonly events$: Observable<ManagerLifecycleEvent> = new GuardedObservable<ManagerLifecycleEvent>(
    (subscriber) => {
      const remove = this.add((event) => subscriber.next(event));
      const complete = () => subscriber.complete();
      this.completions.add(complete);
      return () => {
        remove();
        this.completions.delete(complete);
      };
    },
    (error) => this.reportListenerError(error),
  );

  /**
   * Calls `listener` with every event emitted from now on, synchronously, until the returned
   * subscription is unsubscribed. A listener that throws is logged once and keeps listening.
   * The cheap form of `events$.subscribe(fn)`, for the module's own subscribers.
   */
  listen(listener: LifecycleListener): Subscription {
    let reported = false;
    return new Subscription(
      this.add((event) => {
        try {
          listener(event);
        } catch (error) {
          if (reported) return;
          reported = true;
          this.reportListenerError(error);
        }
      }),
    );
  }

  /**
   * Publishes the event stamped with `at`. The event object is stamped in place (callers pass a
   * fresh literal; a frozen one is copied first): a copy by object spread of the many event shapes
   * cost ~2 µs an emit, ten times the whole dispatch. With no listener nothing is done.
   */
  emit(event: Without<ManagerLifecycleEvent, 'at'>): void {
    const listeners = this.listeners;
    if (listeners.length === 0) return;
    const stamped = (Object.isFrozen(event) ? { ...event } : event) as ManagerLifecycleEvent;
    (stamped as { at: number }).at = Date.now();
    for (const listener of listeners) listener(stamped);
  }

  onModuleDestroy(): void {
    this.listeners = [];
    for (const complete of [...this.completions]) complete();
    this.completions.clear();
  }

  private add(listener: LifecycleListener): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  private reportListenerError(error: unknown): void {
    try {
      this.logger.error(
        `a lifecycle events$ subscriber threw (logged once per subscription; it keeps receiving events): ` +
          logSafe(error instanceof Error ? (error.stack ?? error.message) : error, 2000),
      );
    } catch {
      // The reporter itself failing must not be the thing that crashes the process.
    }
  }
}
