import type { ErrorInfo, EvictedInfo, SessionInfo } from './protocol.js';

/** `connecting` (first attempt) → `open` (session received) ⇄ `reconnecting`; `closed` is final. */
export type ClientStatus = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** Why a client stopped for good. */
export type StopReason = 'closed' | 'evicted' | 'superseded' | 'unauthorized' | 'refused' | 'replaced';

/** A map of event name → `data` type (the default: any name, unknown data). Interfaces work too. */
export type EventMap = Record<string, unknown>;

/** Frames of the module's own protocol. */
export interface ProtocolEvents {
  session: SessionInfo;
  joined: SessionInfo;
  error: ErrorInfo;
  evicted: EvictedInfo;
}

/** Events of the client itself (never frames: the server does not send these names). */
export interface LifecycleEvents {
  /** `status` changed. */
  statuschange: { status: ClientStatus; previous: ClientStatus };
  /** A socket closed (or failed to open); `reconnectInMs` is null when the client stops. */
  disconnect: { code: number; reason: string; reconnectInMs: number | null };
  /** The handshake was refused `maxRefusals` times in a row (or `token()` threw): stopped. */
  unauthorized: { status: number | null };
  /** The client will not reconnect; `code` is the close code that decided it, if any. */
  stopped: { reason: StopReason; code: number | null };
}

/** Every event `on()` accepts for an application map `In`. */
export type ClientEvents<In extends object> = Omit<In, keyof ProtocolEvents | keyof LifecycleEvents> & ProtocolEvents & LifecycleEvents;
