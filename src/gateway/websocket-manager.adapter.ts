import type { IncomingMessage } from 'node:http';
import { Logger, type INestApplicationContext } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { WsAdapter } from '@nestjs/platform-ws';
import type { MessageMappingProperties } from '@nestjs/websockets';
import { isObservable, type Observable } from 'rxjs';
import { WebSocket, type RawData } from 'ws';
import { WS_MANAGER_OPTIONS } from '../config/ws-manager.constants.js';
import type { ResolvedWsManagerOptions } from '../config/ws-manager.options.js';
import { CONTEXT_PATTERN, WebSocketManagerFactory } from '../managers/websocket-manager.factory.js';
import { assertOneHandlerPerEvent, discoverGateways, markGovernedServer, normalizePath, type GatewayInfo } from './governed-gateways.js';
import { setHandshake } from './handshake.js';
import { WebSocketIdentityService } from './websocket-identity.service.js';

/** Wire error code of a frame that is not JSON with a string `event`. */
export const BAD_MESSAGE = 'BAD_MESSAGE';

type MessageCallback = MessageMappingProperties['callback'];

type VerifyCallback = (result: boolean, code?: number, message?: string) => void;

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
 * gets HTTP 401, a disallowed Origin 403, a malformed context 400. A refused handshake creates
 * no socket and no manager. Each frame is parsed once: a malformed one is answered with
 * `BAD_MESSAGE`, a good one stamps the connection's liveness and its manager's activity and goes
 * to its `@SubscribeMessage` handler (guards, pipes and interceptors apply as usual).
 *
 * Every other gateway behaves exactly as under Nest's `WsAdapter`.
 *
 * @example app.useWebSocketAdapter(new WebSocketManagerAdapter(app));
 */
export class WebSocketManagerAdapter extends WsAdapter {
  private readonly handshakeLogger = new Logger('WebSocketManager');
  private readonly governedServers = new Map<string, ReturnType<WsAdapter['create']>>();
  private readonly governedSockets = new WeakSet<WebSocket>();
  private gateways: GatewayInfo[] | undefined;
  private identityService: WebSocketIdentityService | undefined;

  constructor(private readonly app: INestApplicationContext) {
    super(app);
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
          (refusal) => (refusal ? callback(false, refusal.status, refusal.message) : callback(true)),
          (error: unknown) => {
            this.handshakeLogger.error(`handshake failed: ${String(error)}`);
            callback(false, 500, 'Internal Server Error');
          },
        );
      },
    });
    markGovernedServer(server);
    server.on('connection', (socket: WebSocket) => this.governedSockets.add(socket));
    this.governedServers.set(governed.key, server);
    return server;
  }

  /**
   * The governed server a gateway at (`port`, `ownPath`) belongs to, or `undefined` when no
   * governed gateway is there. A gateway's own `path` wins over the `path` option. Fails at
   * bootstrap when a governed and a plain gateway, or two handlers of one event, share a server.
   */
  private governedAt(port: number, ownPath: string | undefined): { key: string; path: string } | undefined {
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
    return { key: `${port}:${effective}`, path: effective };
  }

  /** The identity step, looked up once (not per handshake). */
  private identity(): WebSocketIdentityService {
    const service = (this.identityService ??= this.app.get(WebSocketIdentityService, { strict: false }));
    if (!service) throw new Error('WebSocketManagerAdapter needs WebSocketManagerModule in the application');
    return service;
  }

  /** Whether a socket belongs to a governed server (the others are handled as by WsAdapter). */
  protected governs(client: WebSocket): boolean {
    return this.governedSockets.has(client);
  }

  override bindMessageHandlers(client: WebSocket, handlers: MessageMappingProperties[], transform: (data: unknown) => Observable<unknown>): void {
    if (!this.governs(client)) return super.bindMessageHandlers(client, handlers, transform);
    // One listener and one JSON.parse per frame instead of Nest's per-socket rxjs pipeline, which
    // the benchmark showed costing per-message latency and per-connection memory.
    const callbacks = new Map<string, MessageCallback>(handlers.map((h) => [String(h.message), h.callback]));
    const factory = this.app.get(WebSocketManagerFactory, { strict: false });
    client.on('message', (raw: RawData, isBinary: boolean) => {
      factory.connectionOf(client)?.heard();
      const frame = isBinary ? undefined : parseFrame(raw);
      if (!frame) {
        sendJson(client, { event: 'error', data: { code: BAD_MESSAGE } });
        return;
      }
      factory.managerOfSocket(client)?.markActivity();
      const callback = callbacks.get(frame.event);
      if (callback) void this.deliver(client, () => callback(frame.data, frame.event));
    });
  }

  /** Runs a handler and writes its `{event, data}` answer(s); a failing handler is logged. */
  private async deliver(client: WebSocket, run: () => unknown): Promise<void> {
    try {
      const result: unknown = await run();
      if (isObservable(result)) {
        result.subscribe({ next: (value) => sendJson(client, value), error: (error: unknown) => this.handshakeLogger.error(error) });
      } else {
        sendJson(client, result);
      }
    } catch (error) {
      this.handshakeLogger.error(error);
    }
  }

  /** Decides one handshake; `null` admits it. Override to add checks. */
  protected async authorize(request: IncomingMessage, origin: string | undefined): Promise<HandshakeRefusal | null> {
    const o = this.options();
    if (o.allowedOrigins.length > 0 && !(origin && o.allowedOrigins.includes(origin))) {
      return { status: 403, message: 'Forbidden' };
    }
    const identity = await this.identity().resolve(request);
    if (!identity) return { status: 401, message: 'Unauthorized' };
    const context = new URL(request.url ?? '/', 'http://localhost').searchParams.get('context') ?? undefined;
    if (context !== undefined && !CONTEXT_PATTERN.test(context)) return { status: 400, message: 'Bad Request' };
    setHandshake(request, { userId: identity.userId, context, limit: identity.limit });
    return null;
  }

  private options(): ResolvedWsManagerOptions {
    return this.app.get<ResolvedWsManagerOptions>(WS_MANAGER_OPTIONS, { strict: false });
  }
}

function parseFrame(raw: RawData): { event: string; data: unknown } | undefined {
  try {
    const frame = JSON.parse(String(raw)) as { event?: unknown; data?: unknown } | null;
    return typeof frame?.event === 'string' ? { event: frame.event, data: frame.data } : undefined;
  } catch {
    return undefined;
  }
}

function sendJson(client: WebSocket, value: unknown): void {
  if (value !== undefined && value !== null && client.readyState === WebSocket.OPEN) client.send(JSON.stringify(value));
}
