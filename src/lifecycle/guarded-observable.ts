import { Observable, Subscriber, type Observer, type Operator, type Subscription } from 'rxjs';

/** Told once per subscription whose callback threw (or whose stream failed without an error handler). */
export type SubscriberErrorHandler = (error: unknown) => void;

/**
 * An Observable whose subscribers cannot crash the process. rxjs 7 rethrows an error from a
 * subscriber's `next` (or an unhandled stream error) on a timer, where it becomes an uncaught
 * exception. Here each subscriber's callbacks are wrapped: a throw is reported to `onError` once
 * per subscription, later throws of the same subscriber are dropped, and the subscriber keeps
 * receiving events; a stream error with no `error` callback is reported instead of rethrown.
 * `lift` keeps the class, so `events$.pipe(filter(...)).subscribe(fn)` is guarded too.
 */
export class GuardedObservable<T> extends Observable<T> {
  constructor(
    subscribe: ((subscriber: Subscriber<T>) => Subscription | (() => void) | void) | undefined,
    private readonly onError: SubscriberErrorHandler,
  ) {
    super(subscribe);
  }

  override lift<R>(operator?: Operator<T, R>): Observable<R> {
    const observable = new GuardedObservable<R>(undefined, this.onError);
    observable.source = this;
    observable.operator = operator;
    return observable;
  }

  override subscribe(observerOrNext?: Partial<Observer<T>> | ((value: T) => void) | null): Subscription {
    // Operators subscribe to their source with internal Subscribers: only the final consumer is wrapped.
    if (observerOrNext instanceof Subscriber) return super.subscribe(observerOrNext);
    const observer: Partial<Observer<T>> = typeof observerOrNext === 'function' ? { next: observerOrNext } : (observerOrNext ?? {});
    let reported = false;
    const report = (error: unknown) => {
      if (reported) return;
      reported = true;
      try {
        this.onError(error);
      } catch {
        // The reporter itself failing must not be the thing that crashes the process.
      }
    };
    const guard =
      <A extends unknown[]>(fn: ((...args: A) => void) | undefined, self: unknown) =>
      (...args: A) => {
        try {
          fn?.apply(self, args);
        } catch (error) {
          report(error);
        }
      };
    return super.subscribe({
      next: guard(observer.next, observer),
      error: observer.error ? guard(observer.error, observer) : report,
      complete: guard(observer.complete, observer),
    });
  }
}
