/**
 * The Nest baseline: what a team writes with Nest's own `WsAdapter` and no module. A plain
 * `@WebSocketGateway` on the same wire surface as the bare server and the example application:
 * HS256 JWT verified at the upgrade (ws `verifyClient`, so a bad token gets HTTP 401 as with the
 * other two), `session` first, `echo`, the per-user limit in a naive Map, and the `ws` README's
 * heartbeat recipe. Same environment interface as `bare-server.ts`.
 *
 * It separates what Nest's gateway pipeline costs (this against bare) from what the module adds
 * on top (the example application against this).
 */
import 'reflect-metadata';
import type { IncomingMessage } from 'node:http';
import { Controller, Get, Module, type OnModuleDestroy } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { WsAdapter } from '@nestjs/platform-ws';
import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway, WebSocketServer, type OnGatewayConnection } from '@nestjs/websockets';
import type { WebSocket, WebSocketServer as WsServer } from 'ws';
import { baselineSettings, NaiveSessions, startHeartbeat, type BaselineSocket } from './lib/baseline.js';

const { port, path, userOfToken, heartbeatMs, limit, maxPayload } = baselineSettings();
type AuthedRequest = IncomingMessage & { userId?: string; context?: string | null };

// The URL is parsed once here; what the gateway needs rides on the request.
function verifyClient(info: { req: AuthedRequest }, done: (result: boolean, code?: number) => void): void {
  const url = new URL(info.req.url ?? '/', 'http://localhost');
  const header = info.req.headers.authorization;
  const token = header?.startsWith('Bearer ') ? header.slice(7) : url.searchParams.get('token');
  const userId = token ? userOfToken(token) : null;
  if (userId === null) return done(false, 401);
  info.req.userId = userId;
  info.req.context = url.searchParams.get('context');
  done(true);
}

@WebSocketGateway({ path, maxPayload, verifyClient })
class BenchGateway implements OnGatewayConnection, OnModuleDestroy {
  @WebSocketServer() server!: WsServer;
  private readonly sessions = new NaiveSessions(limit, heartbeatMs);
  private readonly heartbeat = startHeartbeat(() => this.server?.clients ?? [], heartbeatMs);

  handleConnection(ws: BaselineSocket, request: AuthedRequest): void {
    this.sessions.admit(ws, request.userId!, request.context);
  }

  @SubscribeMessage('echo')
  echo(@MessageBody() data: unknown, @ConnectedSocket() _client: WebSocket): { event: string; data: unknown } {
    return { event: 'echo', data };
  }

  onModuleDestroy(): void {
    clearInterval(this.heartbeat);
  }
}

@Controller()
class HealthController {
  @Get('health')
  health(): { status: string } {
    return { status: 'ok' };
  }
}

@Module({ providers: [BenchGateway], controllers: [HealthController] })
class BenchModule {}

const app = await NestFactory.create(BenchModule, { logger: ['error', 'warn'] });
app.useWebSocketAdapter(new WsAdapter(app));
app.enableShutdownHooks(['SIGTERM']);
await app.listen(port, '127.0.0.1');
console.log(`nest ws server listening on http://127.0.0.1:${port}`);
