import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { WsResponse } from '@nestjs/websockets';
import { catchError, from, map, mergeMap, of, throwError, type Observable } from 'rxjs';
import { ManagerLimitExceededError, type ManagerLimitReachedPayload } from '../errors/manager-limit-exceeded.error.js';
import type { CleanupReport } from './cleanup-report.js';
import { WebSocketManagerFactory } from '../managers/websocket-manager.factory.js';
import { EmergencyCleanupService } from './emergency-cleanup.service.js';

/** The wire payload of a refusal; kept exported here for imports that predate its move. */
export type { ManagerLimitReachedPayload };

/**
 * Wraps a handler that creates a manager (for example the gateway's `join`). When the handler
 * throws {@link ManagerLimitExceededError}, runs progressive emergency cleanup for that user,
 * retries the handler once, and otherwise answers the client with
 * `{"event":"error","data":{"code":"MANAGER_LIMIT_REACHED",...}}` instead of failing the socket.
 * A successful retry's `{event, data}` answer gets the cleanup report in `data.cleanup` when
 * that field is `null`. Subclass and override the protected hooks to change either step.
 */
@Injectable()
export class EmergencyCleanupInterceptor implements NestInterceptor {
  constructor(
    protected readonly cleanup: EmergencyCleanupService,
    protected readonly factory: WebSocketManagerFactory,
  ) {}

  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const handled$ = next.handle();
    return handled$.pipe(
      catchError((error: unknown) => {
        if (!(error instanceof ManagerLimitExceededError)) return throwError(() => error);
        // A cleanup that fails (registry down) still gets its retry and a clean answer.
        const cleaned$ = from(this.runCleanup(error)).pipe(catchError(() => of(error.cleanup)));
        return cleaned$.pipe(
          mergeMap((report) =>
            handled$.pipe(
              map((result) => this.withReport(result, report)),
              catchError((retryError: unknown) => {
                if (!(retryError instanceof ManagerLimitExceededError)) return throwError(() => retryError);
                this.onRefused(retryError);
                return of(this.toClientError(retryError));
              }),
            ),
          ),
        );
      }),
    );
  }

  /** Runs the cleanup before the retry. */
  protected runCleanup(error: ManagerLimitExceededError): Promise<CleanupReport> {
    return this.cleanup.emergency(error.userId);
  }

  /** Called once per final refusal (after cleanup and the retry); emits the `rejected` event. */
  protected onRefused(error: ManagerLimitExceededError): void {
    this.factory.reportRejection(error);
  }

  /** The answer sent when the retry failed too. */
  protected toClientError(error: ManagerLimitExceededError): WsResponse<ManagerLimitReachedPayload> {
    return { event: 'error', data: error.toPayload() };
  }

  /** Puts the cleanup report into a retried `{event, data: {cleanup: null}}` answer. */
  protected withReport(result: unknown, report: CleanupReport | null): unknown {
    if (!report) return result;
    const data = (result as WsResponse<Record<string, unknown>> | undefined)?.data;
    if (data && typeof data === 'object' && data.cleanup === null) {
      return { ...(result as WsResponse), data: { ...data, cleanup: report } };
    }
    return result;
  }
}
