import { backoffDelay } from './backoff.js';
import { WebSocketClientError } from './client.error.js';
import type { ClientEvents, ClientStatus, EventMap, StopReason } from './client.events.js';
import { CLIENT_DEFAULTS, type ConnectOptions } from './client.options.js';
import { platform, sessionStore, type WebSocketConstructor, type WebSocketLike } from './environment.js';
import { APP_PING_EVENT, APP_PONG_EVENT, ClientCloseCodes, type ErrorInfo, type SessionInfo } from './protocol.js';
import { TabContext } from './tab-context.js';

const OPEN = 1;
/**
 * After the server said it was going away (1001), how long a handshake failure a browser cannot
 * see the status of is taken for the restart, not a refusal (an explicit 401 always counts).
 */
const RESTART_GRACE_MS = 30_000;
type Timer = ReturnType<typeof setTimeout> | undefined;
type Listener = (data: unknown) => void;
type Settings = ConnectOptions & typeof CLIENT_DEFAULTS & { random: () => number };

// The clients of this realm by (url, context): a second connect() for the same context (React
// Strict Mode runs effects and memos twice) closes the first, so one page never holds two sockets
// for one context. Per realm by nature, like the page itself.
const live = new Map<string, WebSocketClient>();

/**
 * A connection to a nestjs-websocket-manager server that keeps one socket per context and never
 * leaves a zombie behind: it reconnects with capped, fully jittered backoff, obeys every close
 * code (4029 waits `retryAfterMs`, or half to all of `capMs` when it is null; 4001 and 4002 stop unless asked not to), notices a dead
 * connection with the app-level ping, keeps a tab's context across refreshes, and queues a bounded
 * number of frames while disconnected. `In` types the frames received, `Out` the frames sent.
 */
export class WebSocketClient<In extends object = EventMap, Out extends object = EventMap> {
  /** Where the connection stands; `statuschange` reports every change. */
  status: ClientStatus = 'connecting';
  /** The last `session` (or `joined`) data: managerId, context, resumed, cleanup report. */
  session: SessionInfo | null = null;
  /** The context asked for on the next (re)connect; the server's choice once a session exists. */
  context: string | undefined;
  /** True when this tab started as a duplicate of a live tab and took a new context. */
  readonly duplicated: boolean;

  private readonly o: Settings;
  private readonly url: URL;
  private readonly Socket: WebSocketConstructor;
  private readonly tab: TabContext | undefined;
  private readonly key: string | undefined;
  private readonly listeners = new Map<string, Set<Listener>>();
  private ws: WebSocketLike | undefined;
  private starting = false;
  private attempt = 0;
  private refusals = 0;
  /** Until then a handshake failure whose status cannot be seen is not a refusal (see {@link closed}). */
  private restartGraceUntil = 0;
  private queue: string[] = [];
  private limit: ErrorInfo | undefined;
  private holdUntil = 0;
  private hiddenAt = 0;
  private retry: Timer;
  private silence: Timer;
  private deadline: Timer;
  private stable: Timer;

  constructor(options: ConnectOptions) {
    this.o = { ...CLIENT_DEFAULTS, random: Math.random, ...options };
    this.url = new URL(options.url); // a bad URL throws here, to the caller, not later in a timer
    const Socket = options.WebSocket ?? platform.WebSocket;
    if (!Socket) throw new TypeError("no WebSocket class: pass options.WebSocket (in Node: import { WebSocket } from 'ws')");
    this.Socket = Socket;
    const storage = options.storage === undefined ? sessionStore() : options.storage;
    this.tab = options.context === undefined && storage ? new TabContext(storage, this.o.storageKey) : undefined;
    this.duplicated = this.tab?.duplicated ?? false;
    this.context = options.context ?? this.tab?.context;
    this.key = options.context !== undefined ? `${options.url}#${options.context}` : this.tab ? `${options.url}#${this.o.storageKey}` : undefined;
    if (this.key) {
      live.get(this.key)?.stop('replaced', null);
      live.set(this.key, this as WebSocketClient);
    }
    for (const type of ['online', 'offline', 'visibilitychange'] as const) platform.addEventListener?.(type, this.onPlatform);
    void this.open();
  }

  /** Listens to a frame of `In`, of the protocol, or to a lifecycle event; returns the unsubscribe. */
  on<K extends keyof ClientEvents<In> & string>(event: K, fn: (data: ClientEvents<In>[K]) => void): () => void {
    const set = this.listeners.get(event) ?? new Set<Listener>();
    this.listeners.set(event, set);
    set.add(fn as Listener);
    return () => set.delete(fn as Listener);
  }

  /**
   * Sends `{event, data}` now if the session is open, else queues it for the next session.
   * @throws WebSocketClientError `SEND_QUEUE_FULL` when `maxQueue` frames wait, `CLIENT_CLOSED` once stopped.
   */
  send<K extends keyof Out & string>(event: K, data: Out[K]): void {
    if (this.status === 'closed') throw new WebSocketClientError('CLIENT_CLOSED', 'the client is closed: connect() again to send');
    const frame = JSON.stringify({ event, data });
    if (this.status === 'open' && this.ws?.readyState === OPEN) return this.ws.send(frame);
    if (this.queue.length >= this.o.maxQueue) {
      throw new WebSocketClientError('SEND_QUEUE_FULL', `${this.queue.length} frames already wait for the connection (maxQueue): drop or retry later`);
    }
    this.queue.push(frame);
  }

  /** Closes the socket (1000) and stops for good: no reconnect follows, queued frames are dropped. */
  close(): void {
    this.stop('closed', null);
  }

  private async open(): Promise<void> {
    if (this.status === 'closed' || this.ws || this.starting) return; // never a second socket
    clearTimeout(this.retry);
    if (platform.navigator?.onLine === false) return; // quiet until 'online'
    this.starting = true;
    let token: string;
    try {
      token = await this.o.token();
    } catch {
      return this.unauthorized(null);
    } finally {
      this.starting = false;
    }
    if ((this.status as ClientStatus) === 'closed') return;
    const url = new URL(this.url);
    url.searchParams.set('token', token);
    if (this.context) url.searchParams.set('context', this.context);
    let ws: WebSocketLike;
    try {
      ws = new this.Socket(url.toString());
    } catch {
      return this.stop('refused', null);
    }
    this.ws = ws;
    let opened = false;
    let error = '';
    // A server that accepts TCP but never answers the upgrade would hold the socket CONNECTING.
    this.deadline = setTimeout(() => this.abandon(ws, 'HANDSHAKE_TIMEOUT', false), this.o.pongTimeoutMs);
    ws.onopen = () => {
      opened = true;
      this.armSilence();
    };
    ws.onmessage = (e: { data: unknown }) => this.frame(e.data);
    ws.onerror = (e: { message?: string; error?: { message?: string } }) => (error = e.message ?? e.error?.message ?? '');
    ws.onclose = (e: { code: number; reason?: string }) => void this.closed(ws, e.code, String(e.reason ?? ''), opened, error);
  }

  private frame(raw: unknown): void {
    this.armSilence(); // any frame proves the connection alive
    let frame: { event?: unknown; data?: unknown } | null;
    try {
      frame = JSON.parse(String(raw)) as typeof frame;
    } catch {
      return;
    }
    const event = frame?.event;
    if (typeof event !== 'string' || event === APP_PONG_EVENT) return;
    const data = frame?.data;
    const isSession = event === 'session' || event === 'joined';
    if (isSession && typeof (data as SessionInfo | null)?.context !== 'string') return; // not what the type promises
    if (isSession) {
      this.session = data as SessionInfo;
      this.context = this.session.context;
      this.tab?.save(this.context);
    }
    if (event === 'session') {
      this.refusals = 0;
      this.restartGraceUntil = 0;
      clearTimeout(this.stable);
      this.stable = setTimeout(() => (this.attempt = 0), this.o.stableAfterMs);
      this.setStatus('open');
      for (const queued of this.queue.splice(0)) this.ws?.send(queued);
    }
    if (event === 'error' && (data as ErrorInfo | null)?.code === 'MANAGER_LIMIT_REACHED') this.limit = data as ErrorInfo;
    this.emit(event, data);
  }

  private async closed(ws: WebSocketLike, code: number, reason: string, opened: boolean, error: string): Promise<void> {
    if (this.ws !== ws) return;
    this.detach();
    let delay = backoffDelay(this.attempt++, this.o, this.o.random);
    let stop: StopReason | undefined;
    if (!opened) {
      // ws names the HTTP status ("Unexpected server response: 401"); a browser names nothing, so a
      // handshake that fails while the server answers HTTP counts as refused (status null).
      const named = /server response: (\d+)/.exec(error);
      const status = named ? Number(named[1]) : error || !(await this.reachable()) ? 0 : null;
      if (this.status === 'closed') return;
      // After a 1001 the server is restarting: it may answer HTTP while it does not take upgrades
      // yet (or any more), which a browser cannot tell from a refusal. An explicit 401 still counts.
      const refusal = status === 401 || (status === null && Date.now() >= this.restartGraceUntil);
      if (refusal) {
        if (++this.refusals >= this.o.maxRefusals) return this.unauthorized(status);
      } else if (status !== null && status >= 400 && status < 500 && status !== 429) stop = 'refused';
    } else if (code === ClientCloseCodes.GoingAway) {
      this.restartGraceUntil = Date.now() + RESTART_GRACE_MS;
    } else if (code === ClientCloseCodes.LimitReached) {
      const after = this.limit?.retryAfterMs;
      // null: every session is in use and none frees by itself; retrying soon only hammers, so wait
      // between half the cap and the cap (jittered, so refused tabs do not come back together).
      delay = typeof after === 'number' ? Math.max(after, delay) : Math.max(delay, Math.floor(this.o.capMs * (0.5 + this.o.random() / 2)));
    } else if (code === ClientCloseCodes.Evicted && !this.o.reconnectOnEvicted) stop = 'evicted';
    else if (code === ClientCloseCodes.Superseded && !this.o.reconnectOnSuperseded) stop = 'superseded';
    this.limit = undefined;
    this.holdUntil = code === ClientCloseCodes.LimitReached ? Date.now() + delay : 0;
    this.emit('disconnect', { code, reason, reconnectInMs: stop ? null : delay });
    if (stop) return this.stop(stop, code);
    this.setStatus('reconnecting');
    this.schedule(delay);
  }

  /** Whether the server answers HTTP at all (a browser's only way to tell "refused" from "down"). */
  private async reachable(): Promise<boolean> {
    try {
      const signal = platform.AbortSignal?.timeout?.(this.o.pongTimeoutMs); // a server that hangs is not "up"
      await platform.fetch?.(this.o.url.replace(/^ws/, 'http'), { mode: 'no-cors', cache: 'no-store', signal });
      return !!platform.fetch;
    } catch {
      return false;
    }
  }

  private schedule(delay: number): void {
    clearTimeout(this.retry);
    if (platform.navigator?.onLine !== false) this.retry = setTimeout(() => void this.open(), delay);
  }

  private armSilence(): void {
    clearTimeout(this.silence);
    clearTimeout(this.deadline);
    this.deadline = undefined;
    this.silence = setTimeout(() => this.ping(), this.o.pingAfterMs);
  }

  /** Sends the app-level ping; no frame within `pongTimeoutMs` and the connection is dead. */
  private ping(): void {
    const ws = this.ws;
    if (ws?.readyState !== OPEN) return;
    ws.send(JSON.stringify({ event: APP_PING_EVENT }));
    this.deadline ??= setTimeout(() => this.abandon(ws, 'PING_TIMEOUT', true), this.o.pongTimeoutMs);
  }

  /** Gives up on an unanswered socket: handled as closed now, closed for real without waiting for it. */
  private abandon(ws: WebSocketLike, reason: string, opened: boolean): void {
    void this.closed(ws, ClientCloseCodes.Timeout, reason, opened, reason);
    if (ws.terminate) ws.terminate();
    else ws.close(ClientCloseCodes.Timeout, reason);
  }

  /** Online again, or a tab visible after a long sleep: check or reconnect now (4029's wait still holds). */
  private readonly onPlatform = (event: { type?: string }): void => {
    const type = event.type;
    if (type === 'offline') return clearTimeout(this.retry);
    if (type === 'visibilitychange' && platform.document?.visibilityState === 'hidden') {
      this.hiddenAt = Date.now();
      return;
    }
    if (type === 'visibilitychange' && Date.now() - this.hiddenAt < this.o.pingAfterMs) return;
    if (this.status === 'closed') return;
    if (this.ws) this.ping();
    else if (!this.starting) this.schedule(Math.max(0, this.holdUntil - Date.now()));
  };

  /** Forgets the current socket (its late events are ignored) and its timers. */
  private detach(): WebSocketLike | undefined {
    const ws = this.ws;
    this.ws = undefined;
    for (const timer of [this.silence, this.deadline, this.stable]) clearTimeout(timer);
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      ws.onerror = () => undefined; // ws (Node) throws on an 'error' nobody listens to
    }
    return ws;
  }

  private unauthorized(status: number | null): void {
    this.emit('unauthorized', { status });
    this.stop('unauthorized', null);
  }

  private stop(reason: StopReason, code: number | null): void {
    if (this.status === 'closed') return;
    clearTimeout(this.retry);
    this.detach()?.close(1000, 'CLIENT_CLOSED');
    if (this.key && live.get(this.key) === (this as WebSocketClient)) live.delete(this.key);
    this.tab?.dispose();
    for (const type of ['online', 'offline', 'visibilitychange']) platform.removeEventListener?.(type, this.onPlatform);
    this.queue = [];
    this.setStatus('closed');
    this.emit('stopped', { reason, code });
  }

  private setStatus(status: ClientStatus): void {
    const previous = this.status;
    if (previous === status) return;
    this.status = status;
    this.emit('statuschange', { status, previous });
  }

  private emit(event: string, data: unknown): void {
    for (const fn of this.listeners.get(event) ?? []) {
      try {
        fn(data);
      } catch (error) {
        console.error(error); // one faulty listener never breaks the connection's state machine
      }
    }
  }
}

/** Opens a managed connection (see {@link WebSocketClient}); it starts connecting at once. */
export function connect<In extends object = EventMap, Out extends object = EventMap>(options: ConnectOptions): WebSocketClient<In, Out> {
  return new WebSocketClient<In, Out>(options);
}
