import { Catch, Logger, type ArgumentsHost } from '@nestjs/common';
import { BaseWsExceptionFilter } from '@nestjs/websockets';
import { WebSocket } from 'ws';
import { InvalidContextError } from '../errors/invalid-context.error.js';
import { ManagerLimitExceededError } from '../errors/manager-limit-exceeded.error.js';
import { RegistryUnavailableError } from '../errors/registry-unavailable.error.js';

/** Errors whose stable `code` is meant for the client. */
const CLIENT_ERRORS = [InvalidContextError, ManagerLimitExceededError, RegistryUnavailableError];

/**
 * Answers a handler's error on the socket as `{"event":"error","data":{"code":...}}`: the
 * module's errors with their stable code, anything else as `INTERNAL_ERROR` (logged). Nest's
 * default filter only emits an `exception` event on the server-side object, which a `ws`
 * client never receives. Applied to {@link WebSocketManagerGateway} and its subclasses.
 */
@Catch()
export class WebSocketErrorFilter extends BaseWsExceptionFilter {
  private readonly logger = new Logger('WebSocketManager');

  override catch(exception: unknown, host: ArgumentsHost): void {
    const client = host.switchToWs().getClient<WebSocket>();
    let code = 'INTERNAL_ERROR';
    if (CLIENT_ERRORS.some((type) => exception instanceof type)) code = (exception as { code: string }).code;
    else this.logger.error(`handler failed: ${exception instanceof Error ? (exception.stack ?? exception.message) : String(exception)}`);
    if (client.readyState === WebSocket.OPEN) client.send(JSON.stringify({ event: 'error', data: { code } }));
  }
}
