import type { MessageEvent } from '@nestjs/common';
import { Observable } from 'rxjs';
import type { ManagerLifecycleEvent } from '../lifecycle/manager-lifecycle.event.js';
import type { AdminOverview } from './admin-overview.service.js';

/** What the stream needs of the HTTP response: whether its buffer is full, and when it drains. */
export interface CongestionSource {
  readonly writableNeedDrain?: boolean;
  on(event: 'drain', listener: () => void): unknown;
  off(event: 'drain', listener: () => void): unknown;
}

/** Sources of one viewer's stream. */
export interface AdminStreamSources {
  lifecycle: Observable<ManagerLifecycleEvent>;
  overview: Observable<AdminOverview>;
  /** The viewer's response; `undefined` on a platform that does not expose it (then nothing is dropped here). */
  sink: CongestionSource | undefined;
}

/**
 * One viewer's Server-Sent Events: `overview` (the aggregates, every push interval) and
 * `lifecycle` (each manager lifecycle event as it happens). Back-pressure: while the viewer's
 * response buffer is full (`writableNeedDrain`) events are dropped, not queued, and counted;
 * once it drains the viewer receives `dropped` with `{dropped: n}` before anything else. What
 * waits for a slow viewer is therefore bounded by the socket and stream buffers, never by how
 * many events happen (Nest's own `maxPendingDataLength` on the route is the backstop).
 */
export function adminEventStream({ lifecycle, overview, sink }: AdminStreamSources): Observable<MessageEvent> {
  return new Observable<MessageEvent>((subscriber) => {
    let dropped = 0;
    const congested = () => sink?.writableNeedDrain === true;
    const flushDropped = () => {
      if (dropped === 0 || congested()) return;
      subscriber.next({ type: 'dropped', data: { dropped } });
      dropped = 0;
    };
    const send = (type: string, data: object) => {
      if (congested()) {
        dropped++;
        return;
      }
      flushDropped();
      subscriber.next({ type, data });
    };
    sink?.on('drain', flushDropped);
    const subscriptions = [
      overview.subscribe((value) => send('overview', value)),
      lifecycle.subscribe((event) => send('lifecycle', event)),
    ];
    return () => {
      sink?.off('drain', flushDropped);
      for (const s of subscriptions) s.unsubscribe();
    };
  });
}
