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

/** How long lifecycle events wait to be sent together. */
export const LIFECYCLE_BATCH_MS = 100;
/** Lifecycle events sent in one message at most; a full batch is sent at once. */
export const LIFECYCLE_BATCH_MAX = 500;

/**
 * One viewer's Server-Sent Events:
 * - `overview`: the aggregates, every push interval;
 * - `lifecycle`: an array of manager lifecycle events, in order, sent every
 *   {@link LIFECYCLE_BATCH_MS} ms or every {@link LIFECYCLE_BATCH_MAX} events (one message per
 *   batch: during an admission storm a viewer costs a write per batch, not per event);
 * - `dropped`: `{dropped: n}`, what this viewer missed.
 *
 * Back-pressure: while the viewer's response buffer is full (`writableNeedDrain`) messages are
 * dropped, not queued, and the events they held counted; once it drains the viewer receives
 * `dropped` before anything else. What waits for a slow viewer is therefore bounded by one batch
 * plus the socket and stream buffers, never by how many events happen (Nest's own
 * `maxPendingDataLength` on the route is the backstop).
 */
export function adminEventStream({ lifecycle, overview, sink }: AdminStreamSources): Observable<MessageEvent> {
  return new Observable<MessageEvent>((subscriber) => {
    let dropped = 0;
    let batch: ManagerLifecycleEvent[] = [];
    let timer: NodeJS.Timeout | undefined;
    const congested = () => sink?.writableNeedDrain === true;
    const flushDropped = () => {
      if (dropped === 0 || congested()) return;
      subscriber.next({ type: 'dropped', data: { dropped } });
      dropped = 0;
    };
    const send = (type: string, data: object, events: number) => {
      if (congested()) {
        dropped += events;
        return;
      }
      flushDropped();
      subscriber.next({ type, data });
    };
    const flushBatch = () => {
      clearTimeout(timer);
      timer = undefined;
      if (batch.length === 0) return;
      const events = batch;
      batch = [];
      send('lifecycle', events, events.length);
    };
    sink?.on('drain', flushDropped);
    const subscriptions = [
      overview.subscribe((value) => send('overview', value, 1)),
      lifecycle.subscribe((event) => {
        batch.push(event);
        if (batch.length >= LIFECYCLE_BATCH_MAX) flushBatch();
        else timer ??= setTimeout(flushBatch, LIFECYCLE_BATCH_MS);
      }),
    ];
    return () => {
      clearTimeout(timer);
      sink?.off('drain', flushDropped);
      for (const s of subscriptions) s.unsubscribe();
    };
  });
}
