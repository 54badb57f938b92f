import { Catch, Logger, type ArgumentsHost } from '@nestjs/common';
import { BaseWsExceptionFilter } from '@nestjs/websockets';
import { WebSocket } from 'ws';
import { InvalidContextError } from '../errors/invalid-context.error.js';
import { ManagerLimitExceededError } from '../errors/manager-limit-exceeded.error.js';
import { RegistryUnavailableError } from '../errors/registry-unavailable.error.js';
import { logSafe } from '../lifecycle/log-safe.js';
import { LogThrottle } from '../lifecycle/log-throttle.js';

/** Errors whose stable `code` is meant for the client. */
const CLIENT_ERRORS = [InvalidContextError, ManagerLimitExceededError, RegistryUnavailableError];

/**
 * Answers a handler's error on the socket as `{"event":"error","data":{"code":...}}`: the
 * module's errors with their stable code, anything else as `INTERNAL_ERROR` (logged). Nest's
 * default filter only emits an `exception` event on the server-side object, which a `ws`
 * client never receives. A client can make a handler fail on every frame, so the log line of
 * one failure (keyed by its message) is written once a minute at most, with a count. Applied to {@link WebSocketManagerGateway} and its subclasses.
 */
@Catch()
export class WebSocketErrorFilter extends BaseWsExceptionFilter {
  private readonly logger = new Logger('WebSocketManager');
  private readonly throttle = new LogThrottle();

  override catch(exception: unknown, host: ArgumentsHost): void {
    const client = host.switchToWs().getClient<WebSocket>();
    let code = 'INTERNAL_ERROR';
    if (CLIENT_ERRORS.some((type) => exception instanceof type)) code = (exception as { code: string }).code;
    else this.logFailure(exception);
    if (client.readyState === WebSocket.OPEN) client.send(JSON.stringify({ event: 'error', data: { code } }));
  }

  private logFailure(exception: unknown): void {
    const key = exception instanceof Error ? `${exception.name}:${exception.message}` : String(exception);
    const suppressed = this.throttle.take(key.slice(0, 200));
    if (suppressed === null) return;
    const detail = logSafe(exception instanceof Error ? (exception.stack ?? exception.message) : exception, 2000);
    this.logger.error(`handler failed: ${detail}${suppressed > 0 ? ` (${suppressed} similar since the last line)` : ''}`);
  }
}
