import { Catch, HttpException, Logger, type ArgumentsHost } from '@nestjs/common';
import { BaseWsExceptionFilter, WsException } from '@nestjs/websockets';
import { WebSocket } from 'ws';
import { InvalidContextError } from '../errors/invalid-context.error.js';
import { ManagerLimitExceededError } from '../errors/manager-limit-exceeded.error.js';
import { RegistryUnavailableError } from '../errors/registry-unavailable.error.js';
import { logSafe } from '../lifecycle/log-safe.js';
import { LogThrottle } from '../lifecycle/log-throttle.js';

/** Errors whose stable `code` is meant for the client. */
const CLIENT_ERRORS = [InvalidContextError, ManagerLimitExceededError, RegistryUnavailableError];

/** Wire code of a handler failure that is not the client's doing (the details stay in the log). */
export const INTERNAL_ERROR = 'INTERNAL_ERROR';

/**
 * Nest's `BaseWsExceptionFilter` (which writes to native `ws` clients) plus the module's codes:
 * - `WsException` (and a guard's refusal, which Nest throws as `WsException('Forbidden resource')`)
 *   keeps Nest's shape: `{"event":"exception","data":{"status":"error","message":...,"cause":...}}`,
 *   a client error, not logged;
 * - an `HttpException` below 500 thrown in a handler (e.g. `UnauthorizedException` from a
 *   shared guard) is answered the same way with its message, not logged;
 * - the module's errors answer `{"event":"error","data":{"code":...}}` with their stable code;
 * - anything else answers `{"event":"error","data":{"code":"INTERNAL_ERROR"}}` and is logged.
 *
 * Applied to `WebSocketManagerGateway`; a filter of your own on a subclass or a handler
 * (`@UseFilters`) runs first for the exceptions it catches. (Nest does not apply
 * `app.useGlobalFilters` to gateways.) Extend it and override {@link catch} to change a case.
 */
@Catch()
export class WebSocketErrorFilter extends BaseWsExceptionFilter {
  private readonly errorLogger = new Logger('WebSocketManager');
  private readonly throttle = new LogThrottle();

  override catch(exception: unknown, host: ArgumentsHost): void {
    if (exception instanceof WsException) return super.catch(exception, host);
    if (exception instanceof HttpException && exception.getStatus() < 500) {
      return super.catch(new WsException(exception.message), host);
    }
    const client = host.switchToWs().getClient<WebSocket>();
    let code = INTERNAL_ERROR;
    if (CLIENT_ERRORS.some((type) => exception instanceof type)) code = (exception as { code: string }).code;
    else this.logFailure(exception);
    if (client.readyState === WebSocket.OPEN) client.send(JSON.stringify({ event: 'error', data: { code } }));
  }

  private logFailure(exception: unknown): void {
    const key = exception instanceof Error ? `${exception.name}:${exception.message}` : String(exception);
    const suppressed = this.throttle.take(key.slice(0, 200));
    if (suppressed === null) return;
    const detail = logSafe(exception instanceof Error ? (exception.stack ?? exception.message) : exception, 2000);
    this.errorLogger.error(`handler failed: ${detail}${suppressed > 0 ? ` (${suppressed} similar since the last line)` : ''}`);
  }
}
