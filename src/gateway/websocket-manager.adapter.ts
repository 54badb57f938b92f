import type { IncomingMessage } from 'node:http';
import { Logger, type INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import { WS_MANAGER_OPTIONS } from '../config/ws-manager.constants.js';
import type { ResolvedWsManagerOptions } from '../config/ws-manager.options.js';
import { CONTEXT_PATTERN } from '../managers/websocket-manager.factory.js';
import { setHandshake } from './handshake.js';

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
 * no socket and no manager.
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
