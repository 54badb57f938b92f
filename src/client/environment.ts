// The few platform features the client uses, typed structurally: the library compiles without
// the DOM lib, and Node (with `ws`) and browsers both fit these shapes.

/** A handler slot of a socket; `never` accepts the browser's and `ws`'s event types alike. */
type Slot = ((event: never) => void) | null;

/** What the client needs of a WebSocket: the browser's, or `ws`'s in Node. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /** `ws` only: drop the TCP connection without the closing handshake. */
  terminate?(): void;
  onopen: Slot;
  onmessage: Slot;
  onerror: Slot;
  onclose: Slot;
}

/** A WebSocket class: `globalThis.WebSocket` in browsers, `import { WebSocket } from 'ws'` in Node. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** `sessionStorage` or anything with its three methods. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** The fields of the window events the client reads. */
export interface PlatformEvent {
  type?: string;
  persisted?: boolean;
}

/** The browser globals read, all optional (absent in Node). */
export interface Platform {
  WebSocket?: WebSocketConstructor;
  sessionStorage?: StorageLike;
  navigator?: { onLine?: boolean };
  document?: { visibilityState?: string };
  addEventListener?(type: string, fn: (event: PlatformEvent) => void): void;
  removeEventListener?(type: string, fn: (event: PlatformEvent) => void): void;
  fetch?(url: string, init: { mode: string; cache: string; signal?: unknown }): Promise<unknown>;
  AbortSignal?: { timeout?(ms: number): unknown };
}

/** The running platform. */
export const platform = globalThis as unknown as Platform;

/** `sessionStorage`, or undefined where it is missing or access throws (sandboxed frames, Node). */
export function sessionStore(): StorageLike | undefined {
  try {
    return platform.sessionStorage ?? undefined;
  } catch {
    return undefined;
  }
}

/** A random id of `[a-z0-9]`, for contexts and tab identities. */
export function randomId(): string {
  return Math.random().toString(36).slice(2, 10) + Date.now().toString(36);
}
