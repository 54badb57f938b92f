import type { IncomingMessage } from 'node:http';
import { Injectable, Logger, UseInterceptors, type CallHandler, type ExecutionContext, type INestApplication, type NestInterceptor } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { WebSocketsController } from '@nestjs/websockets/web-sockets-controller.js';
import { map, type Observable } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { MANAGER_REGISTRY, WebSocketManagerAdapter, WebSocketManagerGateway, WebSocketManagerModule, type Admission, type ManagerRegistry } from '../../src/index.js';
import { TestClient } from '../support/app-harness.js';

/** Resolved from the gateway's module by Nest (so the proxy made for it must know that module). */
@Injectable()
class Tagger implements NestInterceptor {
  calls = 0;
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    this.calls++;
    return next.handle().pipe(map((answer: { event: string; data: unknown }) => ({ ...answer, data: { tagged: answer.data } })));
  }
}

const hooks: { connected: unknown[][]; disconnected: unknown[][] } = { connected: [], disconnected: [] };

/** One governed gateway on its server: the adapter runs its connections. */
@WebSocketGateway({ path: '/own' })
class OwnGateway extends WebSocketManagerGateway {
  override handleConnection(client: WebSocket, request?: IncomingMessage): Promise<Admission | null> {
    const user = new URL(request?.url ?? '/', 'http://x').searchParams.get('user');
    hooks.connected.push([client, request, user]);
    if (user === 'throws') throw new Error('handleConnection threw');
    const admitted = super.handleConnection(client, request);
    return user === 'rejects' ? admitted.then(() => Promise.reject(new Error('handleConnection rejected'))) : admitted;
  }

  override handleDisconnect(client: WebSocket, ...rest: unknown[]): void {
    hooks.disconnected.push([client, ...rest]);
    super.handleDisconnect(client);
    if (hooks.disconnected.length === 1) throw new Error('handleDisconnect threw');
  }

  @SubscribeMessage('plain') plain(@MessageBody() data: unknown) {
    return { event: 'plain', data };
  }

  /** Not callable directly (an interceptor): through the proxy Nest makes. */
  @UseInterceptors(Tagger)
  @SubscribeMessage('tagged')
  tagged(@MessageBody() data: unknown) {
    return { event: 'tagged', data };
  }
}

/** Two governed gateways sharing a server keep Nest's pipeline (each binds its own handlers). */
@WebSocketGateway({ path: '/shared' })
class SharedA extends WebSocketManagerGateway {
  @SubscribeMessage('a') a(@MessageBody() data: unknown) {
    return { event: 'a', data };
  }
}
@WebSocketGateway({ path: '/shared' })
class SharedB extends WebSocketManagerGateway {
  @SubscribeMessage('b') b(@MessageBody() data: unknown) {
    return { event: 'b', data };
  }
}

const userOf = (request: IncomingMessage) => new URL(request.url ?? '/', 'http://x').searchParams.get('user');

describe("a governed gateway's connections, run by the adapter instead of Nest's pipeline", () => {
  let app: INestApplication;
  let port: number;
  const clients: TestClient[] = [];
  const nestBinds = vi.spyOn(WebSocketsController.prototype, 'subscribeMessages');
  const errors = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [ScheduleModule.forRoot(), WebSocketManagerModule.forRoot({ identityResolver: userOf, cleanupCron: '0 0 0 1 1 *' })],
      providers: [OwnGateway, SharedA, SharedB, Tagger],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    app.useWebSocketAdapter(new WebSocketManagerAdapter(app));
    await app.listen(0, '127.0.0.1');
    port = Number(new URL(await app.getUrl()).port);
  });
  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await app?.close();
    vi.restoreAllMocks();
  });

  function open(path: string, user: string): TestClient {
    const client = new TestClient(new WebSocket(`ws://127.0.0.1:${port}${path}?user=${user}`));
    clients.push(client);
    return client;
  }

  it('calls handleConnection(socket, request) and handleDisconnect(socket, code) as Nest does, and answers every handler', async () => {
    nestBinds.mockClear();
    const client = open('/own', 'alice');
    await client.next('session');
    expect(hooks.connected).toHaveLength(1);
    const [socket, request, user] = hooks.connected[0]!;
    expect(socket).toBeInstanceOf(WebSocket);
    expect((request as IncomingMessage).url).toBe('/own?user=alice');
    expect(user).toBe('alice');
    client.send('plain', 1);
    expect(await client.next('plain')).toEqual({ event: 'plain', data: 1 });
    // The interceptor is the module's instance: the proxy was made in the gateway's module.
    client.send('tagged', 2);
    expect(await client.next('tagged')).toEqual({ event: 'tagged', data: { tagged: 2 } });
    expect(app.get(Tagger).calls).toBe(1);
    // Nest's per-socket pipeline never ran for this socket (it binds through subscribeMessages).
    expect(nestBinds).not.toHaveBeenCalled();
    client.ws.close(1000);
    await client.closed;
    await expect.poll(() => hooks.disconnected.length).toBe(1);
    expect(hooks.disconnected[0]).toEqual([socket, 1000]);
    // Its handleDisconnect threw: logged, not an uncaught exception (Vitest fails the run on one).
    await expect.poll(() => errors.mock.calls.some(([line]) => String(line).includes('OwnGateway.handleDisconnect failed: Error: handleDisconnect threw'))).toBe(true);
  });

  it('logs a handleConnection that throws or rejects and closes that socket with 1011, instead of crashing the process', async () => {
    // It threw before super: no session ever started; left open, nothing would watch the socket.
    const thrower = open('/own', 'throws');
    expect(await thrower.closed).toEqual({ code: 1011, reason: 'INTERNAL_ERROR' });
    expect(thrower.pending.filter((f) => f.event === 'session')).toEqual([]);
    await expect.poll(() => errors.mock.calls.some(([line]) => String(line).includes('OwnGateway.handleConnection failed: Error: handleConnection threw'))).toBe(true);
    // A rejection is caught too (an unhandled one would fail this run); its log line is the same
    // key's, so within the minute it is counted, not written again. Its session is released.
    const rejecter = open('/own', 'rejects');
    await rejecter.next('session');
    expect(await rejecter.closed).toEqual({ code: 1011, reason: 'INTERNAL_ERROR' });
    await expect.poll(() => app.get<ManagerRegistry>(MANAGER_REGISTRY).listByUser('rejects').then((records) => records.every((r) => r.detachedAt !== null))).toBe(true);
  });

  it("keeps Nest's pipeline for gateways sharing a server", async () => {
    nestBinds.mockClear();
    const client = open('/shared', 'bob');
    await client.next('session');
    client.send('a', 1);
    client.send('b', 2);
    expect(await client.next('a')).toEqual({ event: 'a', data: 1 });
    expect(await client.next('b')).toEqual({ event: 'b', data: 2 });
    expect(nestBinds).toHaveBeenCalledTimes(2); // once per gateway
  });
});

describe("when Nest's context creator is not where Nest 12 keeps it", () => {
  let app: INestApplication;

  afterAll(async () => {
    await app?.close();
    vi.restoreAllMocks();
  });

  it("keeps Nest's pipeline for a gateway with a handler that needs Nest's proxy, and answers it", async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [ScheduleModule.forRoot(), WebSocketManagerModule.forRoot({ identityResolver: userOf, cleanupCron: '0 0 0 1 1 *' })],
      providers: [OwnGateway, Tagger],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    // The adapter sees an application without `socketModule` (a Nest that moved it).
    const hidden = new Proxy(app, { get: (target, key) => (key === 'socketModule' ? undefined : Reflect.get(target, key, target)) });
    app.useWebSocketAdapter(new WebSocketManagerAdapter(hidden));
    const nestBinds = vi.spyOn(WebSocketsController.prototype, 'subscribeMessages');
    await app.listen(0, '127.0.0.1');
    const port = Number(new URL(await app.getUrl()).port);
    const client = new TestClient(new WebSocket(`ws://127.0.0.1:${port}/own?user=carol`));
    try {
      await client.next('session');
      client.send('tagged', 5);
      expect(await client.next('tagged')).toEqual({ event: 'tagged', data: { tagged: 5 } });
      client.send('plain', 6);
      expect(await client.next('plain')).toEqual({ event: 'plain', data: 6 });
      expect(nestBinds).toHaveBeenCalledTimes(1);
    } finally {
      client.ws.terminate();
    }
  });
});
