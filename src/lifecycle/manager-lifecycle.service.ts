import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Subject, type Observable } from 'rxjs';
import type { ManagerLifecycleEvent } from './manager-lifecycle.event.js';

type Without<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * The lifecycle of every manager (created, attached, detached, resumed, removed with reason) and
 * every admission decision, as one rxjs stream for metrics and logs to subscribe to.
 */
@Injectable()
export class ManagerLifecycleService implements OnModuleDestroy {
  private readonly subject = new Subject<ManagerLifecycleEvent>();

  /** Hot stream of lifecycle events; subscribers see events emitted after they subscribe. */
  readonly events$: Observable<ManagerLifecycleEvent> = this.subject.asObservable();

  /** Publishes an event, stamping `at` with the current time. */
  emit(event: Without<ManagerLifecycleEvent, 'at'>): void {
    this.subject.next({ ...event, at: Date.now() } as ManagerLifecycleEvent);
  }

  onModuleDestroy(): void {
    this.subject.complete();
  }
}
