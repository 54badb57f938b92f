import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex, Writable } from 'node:stream';
import { Logger, type INestApplicationContext } from '@nestjs/common';
import { ApplicationConfig, ModulesContainer } from '@nestjs/core';
import { WsAdapter } from '@nestjs/platform-ws';
import type { MessageMappingProperties } from '@nestjs/websockets';
import { isObservable, type Observable, type Subscription } from 'rxjs';
import { WebSocket, type RawData, type WebSocketServer } from 'ws';
import { WS_MANAGER_OPTIONS } from '../config/ws-manager.constants.js';
import type { ResolvedWsManagerOptions } from '../config/ws-manager.options.js';
import { logSafe } from '../lifecycle/log-safe.js';
import { LogThrottle } from '../lifecycle/log-throttle.js';
import { ManagerLifecycleService } from '../lifecycle/manager-lifecycle.service.js';
import { sendBounded } from '../managers/bounded-send.js';
import { CONTEXT_PATTERN, WebSocketManagerFactory } from '../managers/websocket-manager.factory.js';
import { CloseCodes } from '../managers/websocket-manager.js';
import { parseFrame } from './frame-parser.js';
import { assertOneHandlerPerEvent, discoverGateways, markGovernedServer, normalizePath, type GatewayInfo } from './governed-gateways.js';
import { handshakeOf, queryParam, setHandshake } from './handshake.js';
import { InboundRateLimiter } from './inbound-rate-limiter.js';
import { isAcceptableUserId } from './user-id.js';
import { WebSocketIdentityService } from './websocket-identity.service.js';
import { answerAppPing } from './app-heartbeat.js';
import { directHandler, type DirectHandler } from './direct-handlers.js';
import { WriteCoalescer } from './write-coalescer.js';

/** Wire error code of a frame that is not JSON with a string `event` (or nested too deeply). */
export const BAD_MESSAGE = 'BAD_MESSAGE';
/** Wire error code of a frame over the inbound message budget; also the reason of close 4008. */
export const RATE_LIMITED = 'RATE_LIMITED';
/** Longest read pause of a connection over budget (heartbeat pongs wait behind it). */
const MAX_RATE_LIMIT_PAUSE_MS = 2_000;
/** After close 4008, how long the peer has to answer the close before its TCP connection is cut. */
const RATE_LIMITED_CLOSE_GRACE_MS = 1_000;
/** Wire error code of a handler that failed outside the gateway's exception filter. */
const INTERNAL_ERROR = 'INTERNAL_ERROR';
const ignore = (): void => undefined;

type MessageCallback = MessageMappingProperties['callback'];

type VerifyCallback = (result: boolean, code?: number, message?: string) => void;

/** Nest's handler proxy (guards, interceptors, pipes, filters) of one handler, not bound to a socket. */
type ProxiedHandler = (client: WebSocket, data: unknown, event: string) => unknown;

/** The handlers one gateway bound to a socket, and those of them called directly. */
interface Binding {
  /** Nest's, each bound to the socket (empty when the adapter runs the connection itself). */
  handlers: MessageMappingProperties[];
  direct: Map<string, DirectHandler> | undefined;
  /** When the adapter runs the connection itself (see `ownConnection`): Nest's proxies of the other handlers. */
  proxied?: Map<string, ProxiedHandler>;
}

/** The connection hooks of a gateway (`OnGatewayConnection`, `OnGatewayDisconnect`). */
interface ConnectionHooks {
  handleConnection?: (...args: unknown[]) => unknown;
  handleDisconnect?: (...args: unknown[]) => unknown;
}

/** What of Nest's `WsContextCreator` is used: `create` makes the proxy Nest would bind for a handler. */
interface NestContextCreator {
  create(instance: object, callback: (...args: unknown[]) => unknown, moduleKey: string, methodName: string): ProxiedHandler;
}

type UpgradeListener = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
type GovernedServer = WebSocketServer & { path?: string };

/**
 * Paths whose raw text is what WHATWG URL parsing makes of it (no escapes, dot segments or
 * backslashes): an upgrade whose raw path equals one is matched without building a URL.
 */
const VERBATIM_PATH = /^\/(?:[\w\-.~!$&'()*,;=:@]+(?:\/[\w\-.~!$&'()*,;=:@]+)*)?$/;
const isVerbatimPath = (path: string) => VERBATIM_PATH.test(path) && !path.split('/').some((segment) => segment === '.' || segment === '..');

/** The path part of a request target (before any `?` or `#`). */
function rawPathOf(url: string): string {
  let end = url.indexOf('?');
  const hash = url.indexOf('#');
  if (hash >= 0 && (end < 0 || hash < end)) end = hash;
  return end < 0 ? url : url.slice(0, end);
}

/** Why a handshake was refused. */
export interface HandshakeRefusal {
  status: 400 | 401 | 403 | 500;
  message: string;
}

/**
 * `WsAdapter` that governs the gateways extending `WebSocketManagerGateway` (or opted in with
 * `@WebSocketManaged()`): their server gets the module's options (the `path` option unless the
 * gateway names its own, payload limit, no permessage-deflate) and the handshake is decided
 * before the upgrade: an unresolvable identity
 * gets HTTP 401, a disallowed Origin 403, a malformed context or an unacceptable user id
 * (control characters, lone surrogates, over 256 characters) 400. A refused handshake creates
 * no socket and no manager. Each frame is charged to the connection's and the user's inbound
 * budget (over it: `RATE_LIMITED`, then close 4008), parsed once (not JSON, no string `event`,
 * or nested deeper than 64 levels: `BAD_MESSAGE`), stamps the connection's liveness and its
 * manager's activity, and goes to its `@SubscribeMessage` handler (guards, pipes and
 * interceptors apply as usual). Answers are written within the send-buffer cap; handler
 * Observables are unsubscribed when their socket closes; a failing handler is answered
 * `INTERNAL_ERROR` and logged once a minute at most, never once per frame.
 *
 * Every other gateway behaves exactly as under Nest's `WsAdapter`.
 *
 * @example app.useWebSocketAdapter(new WebSocketManagerAdapter(app));
 */
export class WebSocketManagerAdapter extends WsAdapter {
  private readonly handshakeLogger = new Logger('WebSocketManager');
  private readonly logThrottle = new LogThrottle();
  private readonly subscriptions = new WeakMap<WebSocket, Set<Subscription>>();
  private limiter?: InboundRateLimiter;
  private readonly governedServers = new Map<string, ReturnType<WsAdapter['create']>>();
  /** The gateways of each governed server, and their handlers that are called directly (see `directHandler`). */
  private readonly serverGateways = new Map<object, GatewayInfo[]>();
  private readonly directHandlers = new Map<GatewayInfo, Map<string, DirectHandler>>();
  /** Sockets of servers shared by several governed gateways: every gateway's handlers, read by one listener. */
  private readonly sharedBindings = new WeakMap<WebSocket, Binding[]>();
  /** The governed server whose connection Nest is binding now (its handlers are bound synchronously). */
  private bindingServer: object | undefined;
  /** Governed servers whose connections the adapter runs itself (see {@link ownConnection}). */
  private readonly ownConnections = new Set<object>();
  /** Governed servers Nest's upgrade listener serves, by port and path (see {@link ensureHttpServerExists}). */
  private readonly upgradeTargets = new Map<number, Map<string, GovernedServer>>();
  /** Each governed WebSocket's TCP socket (for {@link WriteCoalescer}): also the set of governed sockets. */
  private readonly tcpSockets = new WeakMap<WebSocket, Writable>();
  private readonly coalescer = new WriteCoalescer();
  private gateways: GatewayInfo[] | undefined;
  private identityService: WebSocketIdentityService | undefined;
  // Looked up once: the container lookup showed up on every frame and handshake in the profiles.
  private resolvedOptions: ResolvedWsManagerOptions | undefined;
  private managerFactory: WebSocketManagerFactory | undefined;
  private lifecycleService: ManagerLifecycleService | undefined;

  /** The one `close` listener of every governed socket (called with the socket as `this`). */
  private readonly forgetSocket: (this: WebSocket) => void;
  /** The one `error` listener of every socket (Nest's adds a closure per socket). */
  private readonly socketError: (this: WebSocket, error: Error) => void;

  constructor(private readonly app: INestApplicationContext) {
    super(app);
    const forget = (socket: WebSocket) => {
      this.limiter?.unregister(socket);
      this.unsubscribeAll(socket);
    };
    this.forgetSocket = function (this: WebSocket) {
      forget(this);
    };
    const socketError = (socket: WebSocket, error: Error) => {
      // A governed socket's errors are the peer's doing (a frame over the payload limit, bad
      // UTF-8, a protocol violation; ws closes the socket): logged once a minute, not once each.
      if (this.tcpSockets.has(socket)) this.logOnce('socket-error', `socket error: ${logSafe(error.message, 200)}`);
      else this.logger.error(error);
    };
    this.socketError = function (this: WebSocket, error: Error) {
      socketError(this, error);
    };
  }

  /**
   * As Nest's: every socket's and the server's errors are logged, but with one listener for all
   * sockets, and a governed socket's errors (which any client can cause at will) throttled.
   */
  override bindErrorHandler(server: WebSocketServer): WebSocketServer {
    server.on('connection', (socket: WebSocket) => socket.on('error', this.socketError));
    server.on('error', (error: Error) => this.logger.error(error));
    return server;
  }

  override create(port: number, options: Record<string, unknown> = {}): ReturnType<WsAdapter['create']> {
    const ownPath = typeof options.path === 'string' ? options.path : undefined;
    const governed = this.governedAt(port, ownPath);
    // Gateways the module does not govern get exactly what Nest's WsAdapter gives them.
    if (!governed) return super.create(port, options);
    const existing = this.governedServers.get(governed.key);
    if (existing) return existing; // another governed gateway on the same path shares the server
    const o = this.options();
    const server = super.create(port, {
      ...options,
      path: governed.path,
      maxPayload: o.maxPayloadBytes,
      perMessageDeflate: false,
      verifyClient: (info: { origin: string; req: IncomingMessage }, callback: VerifyCallback) => {
        this.authorize(info.req, info.origin).then(
          (refusal) => {
            if (refusal) return callback(false, refusal.status, refusal.message);
            // The 101 answer waits for the `session` frame when admission ends in this turn: one write.
            this.coalescer.holdForTurn(info.req.socket);
            callback(true);
          },
          (error: unknown) => {
            this.logOnce('handshake', `handshake failed: ${logSafe(error)}`, 'error');
            callback(false, 500, 'Internal Server Error');
          },
        );
      },
    });
    markGovernedServer(server);
    this.serverGateways.set(server, governed.gateways);
    server.on('connection', (socket: WebSocket, request: IncomingMessage) => this.tcpSockets.set(socket, request.socket));
    this.governedServers.set(governed.key, server);
    const path = (server as GovernedServer).path;
    // Served by Nest's upgrade listener on the HTTP server (not a server of its own) at a plain path.
    if (this.wsServersRegistry.get(port)?.includes(server) && path !== undefined && isVerbatimPath(path)) {
      let byPath = this.upgradeTargets.get(port);
      if (!byPath) this.upgradeTargets.set(port, (byPath = new Map()));
      byPath.set(path, server as GovernedServer);
    }
    return server;
  }

  /**
   * Nest's upgrade listener builds a whole URL per handshake to find the server of its path. An
   * upgrade whose raw path is exactly a governed server's path goes straight to that server
   * (what Nest's listener would do, minus the URL, and minus its 400 for a malformed Host header,
   * which no other step reads); everything else still goes through Nest's listener.
   */
  protected override ensureHttpServerExists(port: number, httpServer?: HttpServer): HttpServer | undefined {
    const known = this.httpServersRegistry.has(port);
    const server = super.ensureHttpServerExists(port, httpServer);
    if (known) return server;
    const listeners = (this as unknown as { upgradeListenersRegistry?: Map<number, UpgradeListener> }).upgradeListenersRegistry;
    const nest = listeners?.get(port);
    const target = this.httpServersRegistry.get(port) as HttpServer | undefined;
    if (!listeners || !nest || !target || !target.listeners('upgrade').includes(nest)) return server; // not the WsAdapter this was written against
    const direct: UpgradeListener = (request, socket, head) => {
      const governed = request.url === undefined ? undefined : this.upgradeTargets.get(port)?.get(rawPathOf(request.url));
      if (!governed) return nest(request, socket, head);
      try {
        governed.handleUpgrade(request, socket, head, (ws) => governed.emit('connection', ws, request));
      } catch (error) {
        socket.end(`HTTP/1.1 400\r\n${error instanceof Error ? error.message : String(error)}`);
      }
    };
    target.off('upgrade', nest);
    target.on('upgrade', direct);
    listeners.set(port, direct); // so that dispose() takes this one off
    return server;
  }

  /**
   * The governed server a gateway at (`port`, `ownPath`) belongs to, or `undefined` when no
   * governed gateway is there. A gateway's own `path` wins over the `path` option. Fails at
   * bootstrap when a governed and a plain gateway, or two handlers of one event, share a server.
   */
  private governedAt(port: number, ownPath: string | undefined): { key: string; path: string; gateways: GatewayInfo[] } | undefined {
    const path = normalizePath(ownPath);
    this.gateways ??= discoverGateways(this.app.get(ModulesContainer, { strict: false }));
    // The governed gateways Nest would key under this (port, path): their own path, or the default.
    const candidates = this.gateways.filter((g) => g.governed && g.port === port && (g.ownPath === undefined ? ownPath === undefined : normalizePath(g.ownPath) === path));
    if (candidates.length === 0) return undefined; // (without reading the options: plain apps need no module)
    const defaultPath = this.options().path;
    const pathOf = (g: GatewayInfo) => normalizePath(g.ownPath ?? (g.governed ? defaultPath : undefined));
    const effective = pathOf(candidates[0]!);
    // Nest shares one server between gateways of the same raw `path` option, too.
    const sharing = this.gateways.filter((g) => g.port === port && (pathOf(g) === effective || g.ownPath === ownPath));
    const plain = sharing.find((g) => !g.governed);
    if (plain) {
      throw new Error(
        `${plain.metatype.name} (a plain gateway) and ${candidates[0]!.metatype.name} (governed by nestjs-websocket-manager) ` +
          `share the WebSocket path ${effective}; give the plain gateway its own @WebSocketGateway({ path })`,
      );
    }
    assertOneHandlerPerEvent(sharing, `path ${effective}`);
    return { key: `${port}:${effective}`, path: effective, gateways: sharing };
  }

  /** The identity step, looked up once (not per handshake). */
  private identity(): WebSocketIdentityService {
    const service = (this.identityService ??= this.app.get(WebSocketIdentityService, { strict: false }));
    if (!service) throw new Error('WebSocketManagerAdapter needs WebSocketManagerModule in the application');
    return service;
  }

  /** Whether a socket belongs to a governed server (the others are handled as by WsAdapter). */
  protected governs(client: WebSocket): boolean {
    return this.tcpSockets.has(client);
  }

  override bindClientConnect(server: WebSocketServer, callback: (...args: unknown[]) => void): void {
    // Nest calls this once per gateway (and again for a gateway two modules provide): once is enough.
    if (this.ownConnections.has(server)) return;
    const own = this.ownConnection(server);
    if (own) {
      this.ownConnections.add(server);
      server.on('connection', own);
      return;
    }
    super.bindClientConnect(server, (socket: WebSocket, request: IncomingMessage, ...rest: unknown[]) => {
      // ws emits 'close' once: `on` spares the wrapper `once` allocates per socket.
      if (this.budget(socket, request)) socket.on('close', this.forgetSocket);
      // Nest binds the socket's message handlers within this call (see bindMessageHandlers).
      this.bindingServer = server;
      try {
        callback(socket, request, ...rest);
      } finally {
        this.bindingServer = undefined;
      }
    });
  }

  /** Starts the inbound budget of a governed socket (`false`: not one); see {@link forgetSocket} for its end. */
  private budget(socket: WebSocket, request: IncomingMessage): boolean {
    const userId = handshakeOf(request)?.userId;
    if (userId === undefined) return false;
    this.rateLimiter().register(socket, userId);
    return true;
  }

  /**
   * Nest's connection pipeline (an rxjs Subject per event, a `bind` per handler per socket, a
   * closure for the disconnect) cost about 15 µs of the main thread per admission in the
   * benchmark. For a governed server of one static gateway the
   * adapter does what it does, in the same order: `handleConnection(socket, request)`, the
   * socket's message handlers (each called directly where Nest's proxy would do nothing, else
   * through the proxy Nest's own `WsContextCreator` makes for it), and `handleDisconnect(socket,
   * code)` on close. A hook that throws (or rejects) is logged instead of becoming an uncaught
   * exception; a socket whose `handleConnection` failed is closed with 1011 (its session may never
   * have started: left open, no heartbeat or cleanup would ever see it). `undefined` (Nest's pipeline stays) for servers shared by several gateways,
   * request-scoped gateways, or when Nest's context creator cannot be found.
   */
  private ownConnection(server: object): ((socket: WebSocket, request: IncomingMessage) => void) | undefined {
    const gateways = this.serverGateways.get(server);
    const gateway = gateways?.length === 1 ? gateways[0] : undefined;
    const instance = gateway?.instance as (object & ConnectionHooks) | undefined;
    if (!gateway || !instance || !gateway.static) return undefined;
    const config = this.app.get(ApplicationConfig, { strict: false });
    const direct = new Map<string, DirectHandler>();
    const proxied = new Map<string, ProxiedHandler>();
    const prototype = Object.getPrototypeOf(instance) as Record<string, (...args: unknown[]) => unknown>;
    for (const { event, method } of gateway.handlers) {
      const handler = directHandler(instance, method, config);
      if (handler) {
        direct.set(event, handler);
        continue;
      }
      const creator = this.nestContextCreator();
      if (!creator || gateway.moduleKey === undefined) return undefined;
      // What Nest binds per socket (the prototype's method, as its metadata explorer reads it).
      proxied.set(event, creator.create(instance, prototype[method]!, gateway.moduleKey, method));
    }
    const binding: Binding = { handlers: [], direct, proxied };
    const name = gateway.metatype.name;
    const hookFailed = (hook: string) => (error: unknown) =>
      this.logOnce(`hook:${hook}`, `${name}.${hook} failed: ${logSafe(error instanceof Error ? (error.stack ?? error.message) : error, 2000)}`, 'error');
    const logConnectionFailed = hookFailed('handleConnection');
    const connectionFailed = (error: unknown, socket: WebSocket) => {
      logConnectionFailed(error);
      if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) socket.close(1011, INTERNAL_ERROR);
    };
    const disconnectFailed = hookFailed('handleDisconnect');
    const run = (hook: ((...args: unknown[]) => unknown) | undefined, failed: (error: unknown, socket: WebSocket) => void, socket: WebSocket, arg: unknown) => {
      if (typeof hook !== 'function') return;
      try {
        const result = hook.call(instance, socket, arg);
        if (isThenable(result)) result.then(undefined, (error: unknown) => failed(error, socket));
      } catch (error) {
        failed(error, socket);
      }
    };
    const forget = this.forgetSocket;
    // One `close` listener per socket (an emitter with two keeps an array).
    const onClose = function (this: WebSocket, code: number) {
      forget.call(this);
      run(instance.handleDisconnect, disconnectFailed, this, code);
    };
    return (socket, request) => {
      this.budget(socket, request);
      run(instance.handleConnection, connectionFailed, socket, request);
      const tcp = this.tcpSockets.get(socket);
      if (tcp) this.listenForFrames(socket, tcp, [binding]);
      socket.on('close', onClose);
    };
  }

  /** Nest's `WsContextCreator` (the one its `WebSocketsController` binds handlers with), if this Nest has it where 12.x keeps it. */
  private nestContextCreator(): NestContextCreator | undefined {
    const app = this.app as { socketModule?: { webSocketsController?: { contextCreator?: Partial<NestContextCreator> } } };
    const creator = app.socketModule?.webSocketsController?.contextCreator;
    return typeof creator?.create === 'function' ? (creator as NestContextCreator) : undefined;
  }

  /**
   * The handlers Nest is binding (one gateway's: gateways sharing a server each bind their own)
   * that need nothing of Nest's handler proxy, by event. Looked up once per gateway, and kept only
   * for events Nest bound to the socket, so each frame is still answered by one gateway only.
   */
  private directHandlersOf(server: object | undefined, handlers: MessageMappingProperties[]): Map<string, DirectHandler> | undefined {
    const first = handlers[0];
    if (server === undefined || first === undefined) return undefined;
    // Events are unique per server (checked at bootstrap): one of them names the gateway.
    const gateway = this.serverGateways.get(server)?.find((g) => g.handlers.some((h) => h.event === String(first.message)));
    if (!gateway) return undefined;
    let direct = this.directHandlers.get(gateway);
    if (direct === undefined) {
      direct = new Map();
      const bound = new Set(handlers.map((h) => String(h.message)));
      // A request-scoped gateway's handlers run on Nest's per-connection instance: they keep the proxy.
      if (gateway.instance && gateway.static) {
        const config = this.app.get(ApplicationConfig, { strict: false });
        for (const { event, method } of gateway.handlers) {
          const handler = bound.has(event) ? directHandler(gateway.instance, method, config) : undefined;
          if (handler) direct.set(event, handler);
        }
      }
      this.directHandlers.set(gateway, direct);
    }
    return direct;
  }

  override bindClientDisconnect(client: WebSocket, callback: (...args: unknown[]) => void): void {
    if (!this.tcpSockets.has(client)) return super.bindClientDisconnect(client, callback);
    client.on('close', callback); // as Nest's `once`, without the wrapper (ws emits 'close' once)
  }

  override bindMessageHandlers(client: WebSocket, handlers: MessageMappingProperties[], transform: (data: unknown) => Observable<unknown>): void {
    const tcp = this.tcpSockets.get(client);
    if (!tcp) return super.bindMessageHandlers(client, handlers, transform); // not governed
    const server = this.bindingServer;
    const binding: Binding = { handlers, direct: this.directHandlersOf(server, handlers) };
    const bindings: Binding[] = [binding];
    if (server !== undefined && (this.serverGateways.get(server)?.length ?? 0) > 1) {
      // Gateways sharing a path each bind their handlers: one listener reads the frame for all of
      // them (budget, parse, app ping and BAD_MESSAGE once per frame, not once per gateway).
      const shared = this.sharedBindings.get(client);
      if (shared) return void shared.push(binding);
      this.sharedBindings.set(client, bindings);
    }
    this.listenForFrames(client, tcp, bindings);
  }

  /** The one `message` listener of a governed socket. */
  private listenForFrames(client: WebSocket, tcp: Writable, bindings: readonly Binding[]): void {
    // One listener and one JSON.parse per frame instead of Nest's per-socket rxjs pipeline, which
    // the benchmark showed costing per-message latency and per-connection memory. Handlers are
    // few: a scan of Nest's own array beats building a Map per socket.
    const factory = this.factory();
    const limiter = this.rateLimiter();
    // Answers to frames read together leave in one write (see WriteCoalescer).
    const coalescer = this.coalescer;
    const end = () => coalescer.end(tcp);
    const readAlone = frameReadAlone(client, tcp, coalescer);
    client.on('message', (raw: RawData, isBinary: boolean) => {
      // Nothing read with it to coalesce with: its answer leaves as it is sent, without waiting to
      // be uncorked (an Observable answering several values at once then writes each on its own).
      // Its failures are answered and logged in onFrame; as below, a rejection left over is not the process's.
      if (readAlone()) return void this.onFrame(client, raw, isBinary, bindings, factory, limiter)?.catch(ignore);
      coalescer.begin(tcp);
      let answered: Promise<void> | undefined;
      try {
        answered = this.onFrame(client, raw, isBinary, bindings, factory, limiter);
      } finally {
        if (answered) answered.then(end, end);
        else end();
      }
    });
  }

  /** One inbound frame: budget, parse, liveness and activity, then its handler; a promise while the handler runs. */
  private onFrame(
    client: WebSocket,
    raw: RawData,
    isBinary: boolean,
    bindings: readonly Binding[],
    factory: WebSocketManagerFactory,
    limiter: InboundRateLimiter,
  ): Promise<void> | undefined {
    const now = Date.now();
    factory.connectionOf(client)?.heard(now);
    if (limiter.enabled && !this.withinBudget(client, limiter)) return undefined;
    const frame = isBinary ? undefined : parseFrame(raw);
    if (!frame) {
      this.send(client, { event: 'error', data: { code: BAD_MESSAGE } });
      return undefined;
    }
    if (answerAppPing(client, frame.event)) return undefined; // client heartbeat (app-heartbeat.ts): answered, not activity
    factory.managerOfSocket(client)?.markActivity(now);
    const { event, data } = frame;
    for (const { handlers, direct, proxied } of bindings) {
      const called = direct?.get(event);
      if (called) return this.deliverDirect(client, event, called, data);
      const proxy = proxied?.get(event);
      if (proxy) return this.deliver(client, event, proxy, data, true);
      for (const handler of handlers) {
        if ((typeof handler.message === 'string' ? handler.message : String(handler.message)) === event) {
          return this.deliver(client, event, handler.callback, data);
        }
      }
    }
    return undefined;
  }

  /** Charges a frame to the budgets; `false`: dropped (warned once per burst, or the socket closed). */
  private withinBudget(client: WebSocket, limiter: InboundRateLimiter): boolean {
    const verdict = limiter.check(client);
    if (verdict.action === 'deliver') return true;
    const { userId, scope } = verdict;
    if (client.readyState !== WebSocket.OPEN) return false;
    if (verdict.action === 'close') {
      client.close(CloseCodes.RateLimited, RATE_LIMITED);
      // Nothing more it sends is read: parsing a flood only to drop it is the cost being limited.
      client.pause();
      setTimeout(() => client.terminate(), RATE_LIMITED_CLOSE_GRACE_MS).unref();
      this.lifecycle().emit({ type: 'rate_limited', userId, scope, closed: true });
    } else if (verdict.warn) {
      this.send(client, { event: 'error', data: { code: RATE_LIMITED } });
      // Stop reading until the bucket is half full again: TCP pushes back on the sender instead
      // of the server parsing frames it would drop (short, so pongs are read well in time).
      client.pause();
      const pauseMs = Math.min(verdict.refillMs, MAX_RATE_LIMIT_PAUSE_MS, this.options().heartbeatTimeoutMs / 2);
      setTimeout(() => client.readyState === WebSocket.OPEN && client.resume(), pauseMs).unref();
      this.lifecycle().emit({ type: 'rate_limited', userId, scope, closed: false });
    }
    return false;
  }

  /** Runs a handler (Nest's, bound to the socket, or `unbound` and called with it) and writes its `{event, data}` answer(s); a failing one is answered and logged once. */
  private deliver(client: WebSocket, event: string, callback: MessageCallback | ProxiedHandler, data: unknown, unbound = false): Promise<void> | undefined {
    let result: unknown;
    try {
      result = unbound ? (callback as ProxiedHandler)(client, data, event) : (callback as MessageCallback)(data, event);
    } catch (error) {
      this.handlerFailed(client, event, error);
      return undefined;
    }
    // Nest's handler proxy answers a promise: its settlement is handled without an extra async frame.
    if (isThenable(result)) {
      return Promise.resolve(result).then(
        (value: unknown) => this.answer(client, event, value),
        (error: unknown) => this.handlerFailed(client, event, error),
      );
    }
    this.answer(client, event, result);
    return undefined;
  }

  /** {@link deliver} for a handler called without Nest's proxy: a failure goes to its exception filter, as Nest's proxy would send it. */
  private deliverDirect(client: WebSocket, event: string, handler: DirectHandler, data: unknown): Promise<void> | undefined {
    const fail = (error: unknown) => this.directFailed(client, event, handler, data, error);
    let result: unknown;
    try {
      result = handler.invoke(client, data, event);
    } catch (error) {
      fail(error);
      return undefined;
    }
    if (isThenable(result)) return Promise.resolve(result).then((value: unknown) => this.answer(client, event, value, fail), fail);
    this.answer(client, event, result, fail);
    return undefined;
  }

  private directFailed(client: WebSocket, event: string, handler: DirectHandler, data: unknown, error: unknown): void {
    try {
      handler.fail(client, data, event, error);
    } catch (filterError) {
      this.handlerFailed(client, event, filterError);
    }
  }

  /**
   * Writes a handler's answer: a value once, an Observable's values until it ends or the socket
   * closes. An Observable's error goes to `fail` (default: answered `INTERNAL_ERROR` and logged).
   */
  private answer(client: WebSocket, event: string, result: unknown, fail?: (error: unknown) => void): void {
    try {
      if (!isObservable(result)) {
        this.send(client, result);
        return;
      }
      if (client.readyState !== WebSocket.OPEN) return;
      let subscriptions = this.subscriptions.get(client);
      if (!subscriptions) this.subscriptions.set(client, (subscriptions = new Set()));
      const owned = subscriptions;
      const subscription: Subscription = result.subscribe({
        next: (value) => this.send(client, value),
        error: fail ?? ((error: unknown) => this.handlerFailed(client, event, error)),
      });
      // Finished (or failed) at once: nothing to keep; otherwise held until the socket closes.
      if (!subscription.closed) {
        owned.add(subscription);
        subscription.add(() => owned.delete(subscription));
      }
    } catch (error) {
      this.handlerFailed(client, event, error);
    }
  }

  private handlerFailed(client: WebSocket, event: string, error: unknown): void {
    try {
      this.send(client, { event: 'error', data: { code: INTERNAL_ERROR } });
    } catch {
      // The answer itself cannot be written: the socket is going away.
    }
    const detail = error instanceof Error ? (error.stack ?? error.message) : error;
    this.logOnce(`handler:${event}`, `handler of "${logSafe(event, 64)}" failed: ${logSafe(detail, 2000)}`, 'error');
  }

  private unsubscribeAll(client: WebSocket): void {
    const subscriptions = this.subscriptions.get(client);
    if (!subscriptions) return;
    this.subscriptions.delete(client);
    for (const subscription of [...subscriptions]) subscription.unsubscribe();
  }

  /** Writes a handler answer within the send-buffer cap (the tracked connection counts a slow consumer). */
  private send(client: WebSocket, value: unknown): void {
    if (value === undefined || value === null || client.readyState !== WebSocket.OPEN) return;
    let frame: string;
    try {
      frame = JSON.stringify(value);
    } catch (error) {
      // A circular or BigInt answer is the handler's bug: answered, and logged once.
      this.handlerFailed(client, String((value as { event?: unknown }).event ?? '?'), error);
      return;
    }
    const connection = this.factory().connectionOf(client);
    if (connection) connection.send(frame);
    else sendBounded(client, frame, this.options().maxBufferedBytes);
  }

  /** Decides one handshake; `null` admits it. Override to add checks. */
  protected async authorize(request: IncomingMessage, origin: string | undefined): Promise<HandshakeRefusal | null> {
    const o = this.options();
    if (o.allowedOrigins.length > 0 && !(origin && o.allowedOrigins.includes(origin))) {
      return { status: 403, message: 'Forbidden' };
    }
    const identity = await this.identity().resolve(request);
    if (!identity) return { status: 401, message: 'Unauthorized' };
    const { userId } = identity;
    if (!isAcceptableUserId(userId)) {
      this.logOnce('user-id', `refused a handshake: unacceptable user id "${logSafe(userId, 120)}" (control characters, lone surrogates or over 256 characters)`);
      return { status: 400, message: 'Bad Request' };
    }
    const context = queryParam(request, 'context') ?? undefined;
    if (context !== undefined && !CONTEXT_PATTERN.test(context)) return { status: 400, message: 'Bad Request' };
    setHandshake(request, { userId, context, limit: identity.limit });
    return null;
  }

  /** Logs what a client can trigger at will: the first line of each key, then once a minute. */
  private logOnce(key: string, line: string, level: 'warn' | 'error' = 'warn'): void {
    const suppressed = this.logThrottle.take(key);
    if (suppressed === null) return;
    this.handshakeLogger[level](suppressed > 0 ? `${line} (${suppressed} similar since the last line)` : line);
  }

  private rateLimiter(): InboundRateLimiter {
    this.limiter ??= new InboundRateLimiter(this.options());
    return this.limiter;
  }

  private lifecycle(): ManagerLifecycleService {
    this.lifecycleService ??= this.app.get<ManagerLifecycleService>(ManagerLifecycleService, { strict: false });
    return this.lifecycleService;
  }

  private factory(): WebSocketManagerFactory {
    this.managerFactory ??= this.app.get<WebSocketManagerFactory>(WebSocketManagerFactory, { strict: false });
    return this.managerFactory;
  }

  private options(): ResolvedWsManagerOptions {
    return (this.resolvedOptions ??= this.app.get<ResolvedWsManagerOptions>(WS_MANAGER_OPTIONS, { strict: false }));
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value instanceof Promise || (typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function');
}

/**
 * Whether the frame `ws` is emitting was read alone: its receiver holds no byte of a later frame
 * of the same read, and no earlier frame of it corked the socket. Such a frame has nothing to be
 * coalesced with; the cork, the microtask that released it and the end-of-turn fallback cost
 * an echo 2–5 µs of the server's time (the benchmark's server-side probe, see the README).
 * `_receiver._bufferedBytes` is `ws`'s own field: a `ws` without it has every frame corked, as before.
 */
function frameReadAlone(client: WebSocket, tcp: Writable, coalescer: WriteCoalescer): () => boolean {
  const receiver = (client as unknown as { _receiver?: { _bufferedBytes?: unknown } })._receiver;
  if (typeof receiver?._bufferedBytes !== 'number') return () => false;
  return () => receiver._bufferedBytes === 0 && !coalescer.corks(tcp);
}
