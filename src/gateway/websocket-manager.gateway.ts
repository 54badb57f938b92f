import type { IncomingMessage } from 'node:http';
import { Inject, Logger, UseFilters, UseInterceptors, type OnModuleDestroy } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketServer,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
  type WsResponse,
} from '@nestjs/websockets';
import { WebSocket, type WebSocketServer as WsServer } from 'ws';
import { EmergencyCleanupInterceptor } from '../cleanup/emergency-cleanup.interceptor.js';
import { WS_MANAGER_OPTIONS } from '../config/ws-manager.constants.js';
import type { ResolvedWsManagerOptions } from '../config/ws-manager.options.js';
import { ManagerLimitExceededError } from '../errors/manager-limit-exceeded.error.js';
import { ContextBusyError } from '../errors/context-busy.error.js';
import { RegistryReplyError } from '../errors/registry-reply.error.js';
import { RegistryUnavailableError } from '../errors/registry-unavailable.error.js';
import { HealthAssessmentService } from '../health/health-assessment.service.js';
import { WebSocketManagerFactory, type Admission } from '../managers/websocket-manager.factory.js';
import { CloseCodes } from '../managers/websocket-manager.js';
import { handshakeOf } from './handshake.js';
import { BAD_MESSAGE } from './websocket-manager.adapter.js';
import { WebSocketErrorFilter } from './websocket-error.filter.js';

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
  NotAdmitted: 'NOT_ADMITTED',
} as const;

/**
 * The module on the wire: admits each authenticated socket to its (user, context) manager,
 * answers `session`, refuses with `MANAGER_LIMIT_REACHED` + 4029, handles `join` through
 * {@link EmergencyCleanupInterceptor}, answers handler errors through {@link WebSocketErrorFilter}, and drains
 * with 1001 on shutdown. Extend it with `@WebSocketGateway()` and add your own handlers; call
 * {@link admitted} in them to wait until the socket's session is established.
 */
@UseFilters(WebSocketErrorFilter)
export abstract class WebSocketManagerGateway implements OnGatewayConnection, OnGatewayDisconnect, OnModuleDestroy {
  /** The `ws` server Nest created for this gateway. */
  @WebSocketServer() protected server!: WsServer;
  protected readonly logger = new Logger('WebSocketManager');
  private readonly admissions = new WeakMap<WebSocket, Promise<Admission | null>>();
  private draining = false;

  constructor(
    protected readonly factory: WebSocketManagerFactory,
    protected readonly health: HealthAssessmentService,
    @Inject(WS_MANAGER_OPTIONS) protected readonly options: ResolvedWsManagerOptions,
  ) {}

  handleConnection(client: WebSocket, request?: IncomingMessage): Promise<Admission | null> {
    client.on('error', (error) => this.logger.debug(`socket error: ${error.message}`));
    if (this.draining) {
      client.close(CloseCodes.GoingAway, 'SERVER_SHUTDOWN');
      return Promise.resolve(null);
    }
    const admission = this.admit(client, request);
    this.admissions.set(client, admission);
    return admission;
  }

  handleDisconnect(client: WebSocket): void {
    this.factory.release(client).catch((error: unknown) => this.logger.error(`release failed: ${String(error)}`));
  }

  /** Resolves to the socket's admission once its session is established, `null` if refused. */
  protected admitted(client: WebSocket): Promise<Admission | null> {
    return this.admissions.get(client) ?? Promise.resolve(null);
  }

  /** Moves this connection to another context of the same user. */
  @UseInterceptors(EmergencyCleanupInterceptor)
  @SubscribeMessage('join')
  async join(@ConnectedSocket() client: WebSocket, @MessageBody() body: unknown): Promise<WsResponse<unknown>> {
    const context = (body as { context?: unknown } | null)?.context;
    if (typeof context !== 'string') return { event: 'error', data: { code: WireErrorCodes.InvalidContext } };
    const admission = await this.admitted(client);
    const connection = this.factory.connectionOf(client);
    if (!admission || !connection) return { event: 'error', data: { code: WireErrorCodes.NotAdmitted } };
    // A bad context or an unreachable registry throws; WebSocketErrorFilter answers with its code.
    const moved = await this.factory.move(connection, context, false);
    // Buffered messages follow the `joined` answer, which Nest writes when this handler resolves.
    setImmediate(() => moved.manager.replayTo(moved.connection));
    return { event: 'joined', data: this.sessionData(moved) };
  }

  /** Answers `{"event":"status"}` with this session's health class and reasons. */
  @SubscribeMessage('status')
  async status(@ConnectedSocket() client: WebSocket): Promise<WsResponse<unknown>> {
    const admission = await this.admitted(client);
    const manager = this.factory.managerOfSocket(client);
    if (!admission || !manager) return { event: 'error', data: { code: WireErrorCodes.NotAdmitted } };
    const { managerId, context, health, reasons, openConnections } = this.health.assessManager(manager);
    return { event: 'status', data: { managerId, context, health, reasons, connections: openConnections } };
  }

  /** Shapes the `session` / `joined` data. */
  protected sessionData(admission: Admission): SessionData {
    const { manager, resumed, limit, active, cleanup } = admission;
    return { managerId: manager.id, context: manager.context, resumed, limit, active, cleanup };
  }

  /** Closes every connection with 1001 and waits up to `shutdownTimeoutMs` before terminating. */
  async onModuleDestroy(): Promise<void> {
    this.draining = true; // upgrades that still arrive are closed with 1001 at once
    const clients = [...(this.server?.clients ?? [])];
    const closed = clients.map((client) =>
      client.readyState === WebSocket.CLOSED ? Promise.resolve() : new Promise<void>((resolve) => client.once('close', () => resolve())),
    );
    for (const client of clients) {
      if (client.readyState === WebSocket.OPEN) client.close(CloseCodes.GoingAway, 'SERVER_SHUTDOWN');
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.shutdownTimeoutMs)));
    await Promise.race([Promise.all(closed), deadline]);
    clearTimeout(timer);
    for (const client of this.server?.clients ?? []) if (client.readyState !== WebSocket.CLOSED) client.terminate();
  }

  private async admit(client: WebSocket, request: IncomingMessage | undefined): Promise<Admission | null> {
    const handshake = handshakeOf(request);
    if (!handshake) {
      // Only reachable when the adapter is not WebSocketManagerAdapter: fail closed.
      this.logger.error('socket without a handshake; use WebSocketManagerAdapter');
      client.close(1008, 'UNAUTHORIZED');
      return null;
    }
    try {
      const admission = await this.factory.acquire({ userId: handshake.userId, context: handshake.context, socket: client });
      if (client.readyState !== WebSocket.OPEN) {
        await this.factory.discard(admission);
        return null;
      }
      this.send(client, 'session', this.sessionData(admission));
      admission.manager.replayTo(admission.connection);
      return admission;
    } catch (error) {
      this.refuse(client, error);
      return null;
    }
  }

  private refuse(client: WebSocket, error: unknown): void {
    if (error instanceof ManagerLimitExceededError) {
      this.send(client, 'error', error.toPayload());
      client.close(CloseCodes.LimitReached, error.code);
    } else if (error instanceof RegistryUnavailableError || error instanceof ContextBusyError) {
      client.close(CloseCodes.TryAgainLater, error.code);
    } else if (error instanceof RegistryReplyError) {
      // Already logged with its message and counted where the registry answered.
      client.close(1011, error.code);
    } else {
      this.logger.error(`admission failed: ${String(error)}`);
      client.close(1011, 'INTERNAL_ERROR');
    }
  }

  private send(client: WebSocket, event: string, data: unknown): void {
    if (client.readyState === WebSocket.OPEN) client.send(JSON.stringify({ event, data }));
  }
}
