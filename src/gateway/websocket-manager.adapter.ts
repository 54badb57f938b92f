import type { IncomingMessage } from 'node:http';
import { Logger, type INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { MessageMappingProperties } from '@nestjs/websockets';
import { isObservable } from 'rxjs';
import { WebSocket, type RawData } from 'ws';
import { WS_MANAGER_OPTIONS } from '../config/ws-manager.constants.js';
import type { ResolvedWsManagerOptions } from '../config/ws-manager.options.js';
import { CONTEXT_PATTERN, WebSocketManagerFactory } from '../managers/websocket-manager.factory.js';
import { setHandshake } from './handshake.js';
import { answerAppPing } from './app-heartbeat.js';

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
 * `WsAdapter` that applies the module's options to every gateway server (path, payload limit,
 * no permessage-deflate) and decides the handshake before the upgrade: an unresolvable identity
 * gets HTTP 401, a disallowed Origin 403, a malformed context 400. A refused handshake creates
 * no socket and no manager. Each frame is parsed once: a malformed one is answered with
 * `BAD_MESSAGE`, a good one stamps the connection's liveness and its manager's activity and goes
 * to its `@SubscribeMessage` handler (guards, pipes and interceptors apply as usual).
 *
 * @example app.useWebSocketAdapter(new WebSocketManagerAdapter(app));
 */
export class WebSocketManagerAdapter extends WsAdapter {
  private readonly handshakeLogger = new Logger('WebSocketManager');

  constructor(private readonly app: INestApplicationContext) {
    super(app);
  }

  override create(port: number, options: Record<string, unknown> = {}): ReturnType<WsAdapter['create']> {
    const o = this.options();
    return super.create(port, {
      ...options,
      path: o.path,
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
  }

  override bindMessageHandlers(client: WebSocket, handlers: MessageMappingProperties[]): void {
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
      if (answerAppPing(client, frame.event)) return; // client heartbeat (app-heartbeat.ts): answered, not activity
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
    const userId = o.identityResolver ? await o.identityResolver(request) : null;
    if (!userId) return { status: 401, message: 'Unauthorized' };
    const context = new URL(request.url ?? '/', 'http://localhost').searchParams.get('context') ?? undefined;
    if (context !== undefined && !CONTEXT_PATTERN.test(context)) return { status: 400, message: 'Bad Request' };
    setHandshake(request, { userId, context });
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
