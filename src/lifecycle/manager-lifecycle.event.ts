import type { CleanupReport } from '../cleanup/cleanup-report.js';

/** What happened to a manager or an admission. */
export type ManagerLifecycleEvent =
  | { type: 'created'; userId: string; managerId: string; context: string; at: number }
  | { type: 'attached'; userId: string; managerId: string; context: string; connectionId: string; at: number }
  | { type: 'resumed'; userId: string; managerId: string; context: string; replayed: number; at: number }
  | { type: 'detached'; userId: string; managerId: string; context: string; at: number }
  | { type: 'superseded'; userId: string; managerId: string; connectionId: string; at: number }
  | { type: 'rejected'; userId: string; context: string; limit: number; active: number; at: number }
  | {
      type: 'removed';
      userId: string;
      managerId: string;
      context: string;
      trigger: CleanupTrigger;
      level: string;
      reason: string;
      /** The manager was open and its clients were sent `evicted`. */
      evicted: boolean;
      /** Closing its sockets threw; it was removed all the same. */
      closeFailed: boolean;
      at: number;
    }
  | { type: 'zombie_detected'; userId: string; managerId: string; reason: string; at: number }
  | { type: 'heartbeat_terminated'; userId: string; connectionId: string; at: number }
  /** The registry answered with an error (a bug, not an outage): logged, counted, the admission closed 1011. */
  | { type: 'registry_error'; operation: string; message: string; at: number }
  /** A send found the socket's send buffer over `maxBufferedBytes`: closed with 4009. */
  | { type: 'slow_consumer_closed'; userId: string; connectionId: string; at: number }
  /**
   * A connection went over its inbound budget (`scope`: whose bucket ran dry): warned with
   * `RATE_LIMITED` (`closed: false`, once per burst), or closed with 4008 (`closed: true`).
   */
  | { type: 'rate_limited'; userId: string; scope: 'connection' | 'user'; closed: boolean; at: number }
  | { type: 'cleanup'; report: CleanupReport; at: number }
  | { type: 'emergency_cleanup_failed'; userId: string; at: number }
  | { type: 'alarm'; userId: string; failures: number; windowMs: number; at: number }
  /** A scheduled sweep threw before finishing (the schedule goes on). */
  | { type: 'sweep_failed'; error: string; at: number };

/** What started a cleanup run. */
export type CleanupTrigger = 'scheduled' | 'emergency' | 'manual';

/** The `type` of a {@link ManagerLifecycleEvent}. */
export type ManagerLifecycleEventType = ManagerLifecycleEvent['type'];
