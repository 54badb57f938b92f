import { Injectable } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { WebSocketManagerFactory, type Admission } from '../managers/websocket-manager.factory.js';

/** The session a socket belongs to, as `@WsSession()` gives it to a handler. */
export interface WsSessionInfo {
  /** The authenticated user (from the identity step, never from the client). */
  userId: string;
  /** The context the socket is in now (after any `join`). */
  context: string;
  /** The manager of that (user, context). */
  managerId: string;
  /** This user's limit of managers (their own from the identity step, or the option). */
  limit: number;
}

/**
 * Which socket was admitted to which session. The gateway records each admission as it starts;
 * handlers (and `@WsSession()`) wait for it, so a frame that arrives while the admission runs
 * is handled once the session exists.
 */
@Injectable()
export class WebSocketSessions {
  private readonly admissions = new WeakMap<WebSocket, Promise<Admission | null>>();

  constructor(private readonly factory: WebSocketManagerFactory) {}

  /** Records a socket's admission (called by `WebSocketManagerGateway`). */
  track(socket: WebSocket, admission: Promise<Admission | null>): void {
    this.admissions.set(socket, admission);
  }

  /** The admission recorded for a socket, if one was started (another gateway on the same server may have). */
  started(socket: WebSocket): Promise<Admission | null> | undefined {
    return this.admissions.get(socket);
  }

  /** Resolves to the socket's admission once its session is established, `null` if refused or unknown. */
  admitted(socket: WebSocket): Promise<Admission | null> {
    return this.admissions.get(socket) ?? Promise.resolve(null);
  }

  /** The socket's session now, once admitted; `null` if it was refused or has left. */
  async sessionOf(socket: WebSocket): Promise<WsSessionInfo | null> {
    const admission = await this.admitted(socket);
    const manager = this.factory.managerOfSocket(socket);
    if (!admission || !manager) return null;
    return { userId: manager.userId, context: manager.context, managerId: manager.id, limit: admission.limit };
  }
}
