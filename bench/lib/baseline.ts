/**
 * What both baselines (the bare `ws` server and the plain Nest gateway) do the way a team without
 * the module writes it: a naive per-user Map with the limit, and the `ws` README's heartbeat.
 */
import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import { hs256UserVerifier } from '../../example/jwt-identity.js';

/**
 * The settings both baselines read, from the same variables as the example application: PORT,
 * WS_PATH, WS_JWT_SECRET, WS_HEARTBEAT_INTERVAL_MS, WS_MAX_MANAGERS_PER_USER, WS_MAX_PAYLOAD_BYTES.
 */
export function baselineSettings(env: NodeJS.ProcessEnv = process.env) {
  return {
    port: Number(env.PORT ?? 3000),
    path: env.WS_PATH ?? '/ws',
    // The example app's own verifier, so every target pays the same per-handshake cost.
    userOfToken: hs256UserVerifier(env.WS_JWT_SECRET ?? 'bench-secret'),
    heartbeatMs: Number(env.WS_HEARTBEAT_INTERVAL_MS ?? 30_000),
    limit: Number(env.WS_MAX_MANAGERS_PER_USER ?? 20),
    maxPayload: Number(env.WS_MAX_PAYLOAD_BYTES ?? 65_536),
  };
}

/** A socket with the heartbeat recipe's flag. */
export type BaselineSocket = WebSocket & { isAlive: boolean };

const CONTEXT = /^[A-Za-z0-9._:-]{1,64}$/;

/** Sockets by user, at most `limit` each. */
export class NaiveSessions {
  private readonly byUser = new Map<string, Set<WebSocket>>();

  constructor(
    private readonly limit: number,
    private readonly retryAfterMs: number,
  ) {}

  /** Admits `ws` and answers `session`, or refuses it (bad context 1008, over the limit 4029); `false` when refused. */
  admit(ws: BaselineSocket, userId: string, requested: string | null | undefined): boolean {
    ws.on('error', () => undefined);
    const context = requested ?? randomUUID();
    if (!CONTEXT.test(context)) {
      ws.close(1008, 'INVALID_CONTEXT');
      return false;
    }
    let sockets = this.byUser.get(userId);
    if (!sockets) this.byUser.set(userId, (sockets = new Set()));
    const { limit } = this;
    if (sockets.size >= limit) {
      ws.send(JSON.stringify({ event: 'error', data: { code: 'MANAGER_LIMIT_REACHED', limit, active: sockets.size, retryAfterMs: this.retryAfterMs } }));
      ws.close(4029, 'MANAGER_LIMIT_REACHED');
      return false;
    }
    const owned = sockets;
    owned.add(ws);
    ws.isAlive = true;
    ws.on('pong', () => (ws.isAlive = true));
    ws.on('close', () => {
      owned.delete(ws);
      if (owned.size === 0) this.byUser.delete(userId);
    });
    const session = { managerId: randomUUID(), context, resumed: false, limit, active: owned.size, cleanup: null };
    ws.send(JSON.stringify({ event: 'session', data: session }));
    return true;
  }
}

/** The `ws` README recipe: every interval, terminate who did not answer the last ping, ping the rest. */
export function startHeartbeat(clients: () => Iterable<WebSocket>, intervalMs: number): NodeJS.Timeout {
  return setInterval(() => {
    for (const client of clients()) {
      const ws = client as BaselineSocket;
      if (!ws.isAlive) {
        ws.terminate();
        continue;
      }
      ws.isAlive = false;
      ws.ping();
    }
  }, intervalMs);
}
