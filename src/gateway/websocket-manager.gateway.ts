import type { IncomingMessage } from 'node:http';
import { Inject, Logger, UseFilters, type OnModuleDestroy } from '@nestjs/common';
import { WebSocketServer, type OnGatewayConnection, type OnGatewayDisconnect, type WsResponse } from '@nestjs/websockets';
import { WebSocket, type WebSocketServer as WsServer } from 'ws';
import { WS_MANAGER_OPTIONS } from '../config/ws-manager.constants.js';
import type { ResolvedWsManagerOptions } from '../config/ws-manager.options.js';
import { ManagerLimitExceededError } from '../errors/manager-limit-exceeded.error.js';
import { ContextBusyError } from '../errors/context-busy.error.js';
import { RegistryReplyError } from '../errors/registry-reply.error.js';
import { RegistryUnavailableError } from '../errors/registry-unavailable.error.js';
import { HealthAssessmentService } from '../health/health-assessment.service.js';
import { WebSocketManagerFactory, type Admission } from '../managers/websocket-manager.factory.js';
import { CloseCodes } from '../managers/websocket-manager.js';
import { WebSocketManaged } from './governed-gateways.js';
import { handshakeOf } from './handshake.js';
import { BAD_MESSAGE } from './websocket-manager.adapter.js';
import { WebSocketErrorFilter } from './websocket-error.filter.js';
import { WebSocketSessions } from './websocket-sessions.service.js';
import { NOT_ADMITTED } from './ws-session.decorator.js';

/** The `data` of the `session` and `joined` events. */
export interface SessionData {
  managerId: string;
  context: string;
  resumed: boolean;
  limit: number;
  active: number;
  cleanup: Admission['cleanup'];
}

/** Wire error codes sent as `{"event":"error","data":{"code":...}}`. */
export const WireErrorCodes = {
  BadMessage: BAD_MESSAGE,
  InvalidContext: 'INVALID_CONTEXT',
  NotAdmitted: NOT_ADMITTED,
} as const;

/**
 * The module on the wire: admits each authenticated socket to its (user, context) manager,
 * answers `session`, refuses with `MANAGER_LIMIT_REACHED` + 4029, answers handler errors through
 * {@link WebSocketErrorFilter}, and drains with 1001 on shutdown. Extend it with
 * `@WebSocketGateway()` (its own `path` wins over the `path` option) and add your handlers.
 *
 * It claims no event name: the protocol's `join` and `status` are {@link joinContext} and
 * {@link sessionStatus}, mapped to whatever names you choose with one-line handlers. Its
 * dependencies are injected as properties (`wsManager*`), so a subclass keeps its own
 * constructor, `logger`, `server` and so on; `@WsSession()` gives a handler its session.
 * A subclass that implements `handleConnection`, `handleDisconnect` or `onModuleDestroy` calls `super`.
 */
@WebSocketManaged()
@UseFilters(WebSocketErrorFilter)
export abstract class WebSocketManagerGateway implements OnGatewayConnection, OnGatewayDisconnect, OnModuleDestroy {
  /** The `ws` server Nest created for this gateway. */
  @WebSocketServer() protected wsManagerServer!: WsServer;
  /** Admits sockets to managers; `managerOfSocket(client)?.send(...)` reaches every tab of a context. */
  @Inject(WebSocketManagerFactory) protected readonly wsManagerFactory!: WebSocketManagerFactory;
  /** Health classes of managers. */
  @Inject(HealthAssessmentService) protected readonly wsManagerHealth!: HealthAssessmentService;
  /** The module's resolved options. */
  @Inject(WS_MANAGER_OPTIONS) protected readonly wsManagerOptions!: ResolvedWsManagerOptions;
  /** Admissions by socket (what `@WsSession()` reads). */
  @Inject(WebSocketSessions) protected readonly wsManagerSessions!: WebSocketSessions;

  readonly #logger = new Logger('WebSocketManager');
  #draining = false;

  /** Admits a new socket to its session (or refuses it); subclasses that override it call `super`. */
  handleConnection(client: WebSocket, request?: IncomingMessage): Promise<Admission | null> {
    // Governed gateways sharing a path each see the socket: it is admitted once, by the first.
    const started = this.wsManagerSessions.started(client);
    if (started) return started;
    // Socket errors: WebSocketManagerAdapter listens on every socket (logged once a minute).
    if (this.#draining) {
      client.close(CloseCodes.GoingAway, 'SERVER_SHUTDOWN');
      return Promise.resolve(null);
    }
    const admission = this.#admit(client, request);
    this.wsManagerSessions.track(client, admission);
    return admission;
  }

  /** Detaches a closed socket from its manager; subclasses that override it call `super`. */
  handleDisconnect(client: WebSocket): void {
    this.wsManagerFactory.release(client).catch((error: unknown) => this.#logger.error(`release failed: ${String(error)}`));
  }

  /** Resolves to the socket's admission once its session is established, `null` if refused. */
  protected admitted(client: WebSocket): Promise<Admission | null> {
    return this.wsManagerSessions.admitted(client);
  }

  /**
   * The protocol's `join`: moves this connection to another context of the same user, answered
   * with `joined` (or the `MANAGER_LIMIT_REACHED` error while it stays where it was). Map it with
   * `@UseInterceptors(EmergencyCleanupInterceptor) @SubscribeMessage('join')` so that a user at
   * the limit gets emergency cleanup before the refusal.
   */
  protected async joinContext(client: WebSocket, body: unknown): Promise<WsResponse<unknown>> {
    const context = (body as { context?: unknown } | null)?.context;
    if (typeof context !== 'string') return { event: 'error', data: { code: WireErrorCodes.InvalidContext } };
    const admission = await this.admitted(client);
    const connection = this.wsManagerFactory.connectionOf(client);
    if (!admission || !connection) return { event: 'error', data: { code: WireErrorCodes.NotAdmitted } };
    // A bad context or an unreachable registry throws; WebSocketErrorFilter answers with its code.
    const moved = await this.wsManagerFactory.move(connection, context, false);
    // Buffered messages follow the `joined` answer, which Nest writes when this handler resolves.
    setImmediate(() => moved.manager.replayTo(moved.connection));
    return { event: 'joined', data: this.sessionData(moved) };
  }

  /** The protocol's `status`: this session's health class and reasons. Map it with `@SubscribeMessage('status')`. */
  protected async sessionStatus(client: WebSocket): Promise<WsResponse<unknown>> {
    const admission = await this.admitted(client);
    const manager = this.wsManagerFactory.managerOfSocket(client);
    if (!admission || !manager) return { event: 'error', data: { code: WireErrorCodes.NotAdmitted } };
    const { managerId, context, health, reasons, openConnections } = this.wsManagerHealth.assessManager(manager);
    return { event: 'status', data: { managerId, context, health, reasons, connections: openConnections } };
  }

  /** Shapes the `session` / `joined` data. */
  protected sessionData(admission: Admission): SessionData {
    const { manager, resumed, limit, active, cleanup } = admission;
    return { managerId: manager.id, context: manager.context, resumed, limit, active, cleanup };
  }

  /** Closes every connection with 1001 and waits up to `shutdownTimeoutMs` before terminating. */
  async onModuleDestroy(): Promise<void> {
    this.#draining = true; // upgrades that still arrive are closed with 1001 at once
    const clients = [...(this.wsManagerServer?.clients ?? [])];
    const closed = clients.map((client) =>
      client.readyState === WebSocket.CLOSED ? Promise.resolve() : new Promise<void>((resolve) => client.once('close', () => resolve())),
    );
    for (const client of clients) {
      if (client.readyState === WebSocket.OPEN) client.close(CloseCodes.GoingAway, 'SERVER_SHUTDOWN');
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.wsManagerOptions.shutdownTimeoutMs)));
    await Promise.race([Promise.all(closed), deadline]);
    clearTimeout(timer);
    for (const client of this.wsManagerServer?.clients ?? []) if (client.readyState !== WebSocket.CLOSED) client.terminate();
  }

  async #admit(client: WebSocket, request: IncomingMessage | undefined): Promise<Admission | null> {
    const handshake = handshakeOf(request);
    if (!handshake) {
      // Only reachable when the adapter is not WebSocketManagerAdapter (bootstrap refuses that): fail closed.
      this.#logger.error('socket without a handshake; use WebSocketManagerAdapter');
      terminateIfPossible(client);
      return null;
    }
    try {
      const { userId, context, limit } = handshake;
      const admission = await this.wsManagerFactory.acquire({ userId, context, limit, socket: client });
      if (client.readyState !== WebSocket.OPEN) {
        await this.wsManagerFactory.discard(admission);
        return null;
      }
      this.#send(client, 'session', this.sessionData(admission));
      admission.manager.replayTo(admission.connection);
      return admission;
    } catch (error) {
      this.#refuse(client, error);
      return null;
    }
  }

  #refuse(client: WebSocket, error: unknown): void {
    if (error instanceof ManagerLimitExceededError) {
      this.#send(client, 'error', error.toPayload());
      client.close(CloseCodes.LimitReached, error.code);
    } else if (error instanceof RegistryUnavailableError || error instanceof ContextBusyError) {
      client.close(CloseCodes.TryAgainLater, error.code);
    } else if (error instanceof RegistryReplyError) {
      // Already logged with its message and counted where the registry answered.
      client.close(1011, error.code);
    } else {
      this.#logger.error(`admission failed: ${String(error)}`);
      client.close(1011, 'INTERNAL_ERROR');
    }
  }

  #send(client: WebSocket, event: string, data: unknown): void {
    if (client.readyState === WebSocket.OPEN) client.send(JSON.stringify({ event, data }));
  }
}

/** Closes whatever kind of client this is (a socket.io socket has `disconnect`, not `close`). */
function terminateIfPossible(client: unknown): void {
  const socket = client as { close?: (code?: number, reason?: string) => void; disconnect?: (close?: boolean) => void };
  if (typeof socket.close === 'function') socket.close(1008, 'UNAUTHORIZED');
  else if (typeof socket.disconnect === 'function') socket.disconnect(true);
}
