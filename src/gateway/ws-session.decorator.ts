import { createParamDecorator, Injectable, type ExecutionContext, type PipeTransform } from '@nestjs/common';
import { WsException } from '@nestjs/websockets';
import type { WebSocket } from 'ws';
import { WebSocketSessions, type WsSessionInfo } from './websocket-sessions.service.js';

/** Wire code of a handler that needs a session on a socket that has none (refused, or not governed). */
export const NOT_ADMITTED = 'NOT_ADMITTED';

/** Turns the socket into its session, waiting for the admission; a socket without one is answered `NOT_ADMITTED`. */
@Injectable()
export class WsSessionPipe implements PipeTransform<WebSocket, Promise<WsSessionInfo>> {
  constructor(private readonly sessions: WebSocketSessions) {}

  async transform(socket: WebSocket): Promise<WsSessionInfo> {
    const session = await this.sessions.sessionOf(socket);
    if (!session) throw new WsException({ status: 'error', message: NOT_ADMITTED });
    return session;
  }
}

const ConnectedSocketParam = createParamDecorator((_data: unknown, context: ExecutionContext) => context.switchToWs().getClient<WebSocket>());

/**
 * The session of the socket a handler runs for: `{ userId, context, managerId, limit }`, after
 * its admission (a frame sent while the admission runs waits for it). Works in any handler of a
 * gateway the module governs.
 *
 * @example
 * @SubscribeMessage('say')
 * say(@WsSession() session: WsSessionInfo, @MessageBody() text: string) { ... session.userId ... }
 */
export function WsSession(): ParameterDecorator {
  return ConnectedSocketParam(undefined, WsSessionPipe);
}
