import type { BackoffOptions } from './backoff.js';
import type { StorageLike, WebSocketConstructor } from './environment.js';

/** Options of `connect()`. */
export interface ConnectOptions extends Partial<BackoffOptions> {
  /** The WebSocket endpoint without the token, e.g. `wss://example.com/ws`. */
  url: string;
  /**
   * Returns the JWT; called before every (re)connect so that an expired token is refreshed. It
   * travels as `?token=` (browsers cannot set headers on a WebSocket). Throwing stops the client
   * with `unauthorized`.
   */
  token: () => string | Promise<string>;
  /**
   * A fixed context (1–64 of `[A-Za-z0-9._:-]`). Omitted in a browser: one context per tab,
   * kept in `sessionStorage` (see `storageKey`). Omitted elsewhere: the server makes one and the
   * client reuses it for its own reconnects.
   * @default undefined
   */
  context?: string;
  /** The WebSocket class; required in Node (`import { WebSocket } from 'ws'`). @default globalThis.WebSocket */
  WebSocket?: WebSocketConstructor;
  /** Where the tab's context is kept; `null` keeps it in memory only. @default sessionStorage (browsers) */
  storage?: StorageLike | null;
  /** `storage` key of the tab's context. @default 'wsm:context' */
  storageKey?: string;
  /** Silence (no frame received) after which the client sends the app-level ping. @default 20000 */
  pingAfterMs?: number;
  /** How long the ping (or a handshake, or the browser's reachability probe) may go unanswered before it is given up. @default 10000 */
  pongTimeoutMs?: number;
  /** Connected this long, the backoff starts again from `baseMs`. @default 10000 */
  stableAfterMs?: number;
  /** Frames `send()` keeps while not connected; one more throws `SEND_QUEUE_FULL`. @default 100 */
  maxQueue?: number;
  /** Reconnect after close 4001 (evicted by cleanup)? It may take a slot again. @default false */
  reconnectOnEvicted?: boolean;
  /** Reconnect after close 4002 (a newer connection took this context)? @default false */
  reconnectOnSuperseded?: boolean;
  /** Refused handshakes (HTTP 401) in a row before stopping with `unauthorized`. @default 2 */
  maxRefusals?: number;
  /** Random source of the jitter (tests seed it). @default Math.random */
  random?: () => number;
}

/** Options that have a default. */
type Defaulted = 'baseMs' | 'capMs' | 'storageKey' | 'pingAfterMs' | 'pongTimeoutMs' | 'stableAfterMs' | 'maxQueue' | 'reconnectOnEvicted' | 'reconnectOnSuperseded' | 'maxRefusals';

/** Defaults of {@link ConnectOptions}: the one place they are written. */
export const CLIENT_DEFAULTS: Readonly<Required<Pick<ConnectOptions, Defaulted>>> = {
  baseMs: 500,
  capMs: 20_000,
  storageKey: 'wsm:context',
  pingAfterMs: 20_000,
  pongTimeoutMs: 10_000,
  stableAfterMs: 10_000,
  maxQueue: 100,
  reconnectOnEvicted: false,
  reconnectOnSuperseded: false,
  maxRefusals: 2,
};
