import type { IncomingMessage } from 'node:http';
import { Injectable, Logger, Scope, type CanActivate, type INestApplication, type Provider } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { InterceptorsConsumer } from '@nestjs/core/internal';
import { Test } from '@nestjs/testing';
import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway, WsException } from '@nestjs/websockets';
import { of, throwError, type Observable } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { InvalidContextError, MANAGER_REGISTRY, WebSocketManagerAdapter, WebSocketManagerGateway, WebSocketManagerModule, type ManagerRegistry } from '../../src/index.js';
import { TestClient, type Frame } from '../support/app-harness.js';

@Injectable()
class AllowAll implements CanActivate {
  static calls = 0;
  canActivate(): boolean {
    AllowAll.calls++;
    return true;
  }
}

type Case = (client: WebSocket, data: unknown) => unknown;
/** Every shape of answer and failure a handler can give. */
const CASES: Record<string, Case> = {
  value: (_c, data) => ({ event: 'value', data }),
  promise: async (_c, data) => ({ event: 'promise', data }),
  observable: (_c, data): Observable<unknown> => of({ event: 'o1', data }, { event: 'o2', data }),
  nothing: () => undefined,
  wsException: () => {
    throw new WsException('refused');
  },
  moduleError: () => {
    throw new InvalidContextError('bad context');
  },
  bug: () => {
    throw new Error('handler bug');
  },
  rejection: async () => Promise.reject(new Error('async bug')),
  observableError: () => throwError(() => new WsException('stream refused')),
  socket: (client) => ({ event: 'socket', data: client instanceof WebSocket }),
};
/** Answered after everything the frames before it set off within their turn (no case waits on I/O). */
const marker = () => new Promise((resolve) => setImmediate(() => resolve({ event: 'marker' })));

/** Called without Nest's proxy (nothing for the proxy to do). */
@WebSocketGateway({ path: '/direct' })
class DirectGateway extends WebSocketManagerGateway {
  @SubscribeMessage('value') value(@ConnectedSocket() c: WebSocket, @MessageBody() d: unknown) { return CASES.value!(c, d); }
  @SubscribeMessage('promise') promise(@ConnectedSocket() c: WebSocket, @MessageBody() d: unknown) { return CASES.promise!(c, d); }
  @SubscribeMessage('observable') observable(@ConnectedSocket() c: WebSocket, @MessageBody() d: unknown) { return CASES.observable!(c, d); }
  @SubscribeMessage('nothing') nothing(@ConnectedSocket() c: WebSocket, @MessageBody() d: unknown) { return CASES.nothing!(c, d); }
  @SubscribeMessage('wsException') wsException(@ConnectedSocket() c: WebSocket, @MessageBody() d: unknown) { return CASES.wsException!(c, d); }
  @SubscribeMessage('moduleError') moduleError(@ConnectedSocket() c: WebSocket, @MessageBody() d: unknown) { return CASES.moduleError!(c, d); }
  @SubscribeMessage('bug') bug(@ConnectedSocket() c: WebSocket, @MessageBody() d: unknown) { return CASES.bug!(c, d); }
  @SubscribeMessage('rejection') rejection(@ConnectedSocket() c: WebSocket, @MessageBody() d: unknown) { return CASES.rejection!(c, d); }
  @SubscribeMessage('observableError') observableError(@ConnectedSocket() c: WebSocket, @MessageBody() d: unknown) { return CASES.observableError!(c, d); }
  // No parameter decorators: Nest's positional (client, data).
  @SubscribeMessage('socket') socket(c: WebSocket, d: unknown) { return CASES.socket!(c, d); }
  @SubscribeMessage('marker') marker() { return marker(); }
}

/** The same handlers behind a guard that lets everything through: Nest's proxy runs them. */
@WebSocketGateway({ path: '/proxied' })
class ProxiedGateway extends WebSocketManagerGateway {
  @UseAllow() @SubscribeMessage('value') value(@ConnectedSocket() c: WebSocket, @MessageBody() d: unknown) { return CASES.value!(c, d); }
  @UseAllow() @SubscribeMessage('promise') promise(@ConnectedSocket() c: WebSocket, @MessageBody() d: unknown) { return CASES.promise!(c, d); }
  @UseAllow() @SubscribeMessage('observable') observable(@ConnectedSocket() c: WebSocket, @MessageBody() d: unknown) { return CASES.observable!(c, d); }
  @UseAllow() @SubscribeMessage('nothing') nothing(@ConnectedSocket() c: WebSocket, @MessageBody() d: unknown) { return CASES.nothing!(c, d); }
  @UseAllow() @SubscribeMessage('wsException') wsException(@ConnectedSocket() c: WebSocket, @MessageBody() d: unknown) { return CASES.wsException!(c, d); }
  @UseAllow() @SubscribeMessage('moduleError') moduleError(@ConnectedSocket() c: WebSocket, @MessageBody() d: unknown) { return CASES.moduleError!(c, d); }
  @UseAllow() @SubscribeMessage('bug') bug(@ConnectedSocket() c: WebSocket, @MessageBody() d: unknown) { return CASES.bug!(c, d); }
  @UseAllow() @SubscribeMessage('rejection') rejection(@ConnectedSocket() c: WebSocket, @MessageBody() d: unknown) { return CASES.rejection!(c, d); }
  @UseAllow() @SubscribeMessage('observableError') observableError(@ConnectedSocket() c: WebSocket, @MessageBody() d: unknown) { return CASES.observableError!(c, d); }
  @UseAllow() @SubscribeMessage('socket') socket(c: WebSocket, d: unknown) { return CASES.socket!(c, d); }
  @UseAllow() @SubscribeMessage('marker') marker() { return marker(); }
}

function UseAllow(): MethodDecorator {
  // UseGuards, imported late so the decorator list above reads as one column.
  return (target, key, descriptor) => UseGuardsRef(AllowAll)(target, key, descriptor);
}
import { UseGuards as UseGuardsRef } from '@nestjs/common';

const userOf = (request: IncomingMessage) => new URL(request.url ?? '/', 'http://x').searchParams.get('user');

/** An app with the module and `providers`, listening on a free port. */
async function startApp(providers: Provider[]): Promise<{ app: INestApplication; port: number }> {
  const moduleRef = await Test.createTestingModule({
    imports: [ScheduleModule.forRoot(), WebSocketManagerModule.forRoot({ identityResolver: userOf, cleanupCron: '0 0 0 1 1 *' })],
    providers,
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  app.useWebSocketAdapter(new WebSocketManagerAdapter(app));
  await app.listen(0, '127.0.0.1');
  return { app, port: Number(new URL(await app.getUrl()).port) };
}

/** Sends `event` then a marker, and returns every frame answered before the marker's answer. */
async function answersTo(client: TestClient, event: string, data: unknown): Promise<Frame[]> {
  client.send(event, data);
  client.send('marker');
  const frames: Frame[] = [];
  for (;;) {
    const frame = await client.next();
    if (frame.event === 'marker') return frames;
    frames.push(frame);
  }
}

describe('handlers called without Nest\'s proxy answer exactly as through it', () => {
  let app: INestApplication;
  let port: number;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    ({ app, port } = await startApp([DirectGateway, ProxiedGateway, AllowAll]));
  });
  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await app?.close();
  });

  async function open(path: string, user: string): Promise<TestClient> {
    const client = new TestClient(new WebSocket(`ws://127.0.0.1:${port}${path}?user=${user}`));
    clients.push(client);
    await client.next('session');
    return client;
  }

  it('every answer and every failure, on real sockets', async () => {
    vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const direct = await open('/direct', 'd');
    const proxied = await open('/proxied', 'p');
    const guardCallsBefore = AllowAll.calls;
    // Nest's proxy passes every message through the interceptors consumer (even with none).
    const throughNest = vi.spyOn(InterceptorsConsumer.prototype, 'intercept');
    const answers: Record<string, Frame[]> = {};
    for (const event of Object.keys(CASES)) {
      const data = { n: 1, event };
      throughNest.mockClear();
      answers[event] = await answersTo(proxied, event, data);
      expect(throughNest.mock.calls.length, `${event} through Nest`).toBe(2);
      throughNest.mockClear();
      expect(await answersTo(direct, event, data), event).toEqual(answers[event]);
      expect(throughNest.mock.calls.length, `${event} directly`).toBe(0);
    }
    // The proxied twin really went through Nest (its guard ran for each frame, markers included).
    expect(AllowAll.calls - guardCallsBefore).toBe(2 * Object.keys(CASES).length);
    // And the answers compared are the ones the wire protocol promises.
    expect(answers.value).toEqual([{ event: 'value', data: { n: 1, event: 'value' } }]);
    expect(answers.observable!.map((f) => f.event)).toEqual(['o1', 'o2']);
    expect(answers.nothing).toEqual([]);
    expect(answers.wsException).toEqual([{ event: 'exception', data: { status: 'error', message: 'refused', cause: { pattern: 'wsException', data: { n: 1, event: 'wsException' } } } }]);
    expect(answers.moduleError).toEqual([{ event: 'error', data: { code: 'INVALID_CONTEXT' } }]);
    for (const failure of ['bug', 'rejection']) expect(answers[failure]).toEqual([{ event: 'error', data: { code: 'INTERNAL_ERROR' } }]);
    expect(answers.observableError![0]).toMatchObject({ event: 'exception', data: { message: 'stream refused' } });
    expect(answers.socket).toEqual([{ event: 'socket', data: true }]);
    vi.restoreAllMocks();
  });
});

@Injectable({ scope: Scope.REQUEST })
class PerConnection {
  readonly id = Math.random();
}

/** Request-scoped dependencies: Nest makes an instance per connection, so its handlers keep Nest's proxy. */
@WebSocketGateway()
class ScopedGateway extends WebSocketManagerGateway {
  constructor(private readonly perConnection: PerConnection) {
    super();
  }

  @SubscribeMessage('echo')
  echo(@MessageBody() data: unknown) {
    return { event: 'echo', data: { data, scoped: typeof this.perConnection.id === 'number' } };
  }
}

describe('a gateway with request-scoped dependencies', () => {
  let app: INestApplication;

  afterAll(() => app?.close());

  it('keeps Nest\'s proxy: its handler runs on the instance Nest made for the connection', async () => {
    const started = await startApp([ScopedGateway, PerConnection]);
    app = started.app;
    const throughNest = vi.spyOn(InterceptorsConsumer.prototype, 'intercept');
    const client = new TestClient(new WebSocket(`ws://127.0.0.1:${started.port}/ws?user=s`));
    try {
      await client.next('session');
      client.send('echo', 7);
      expect((await client.next('echo')).data).toEqual({ data: 7, scoped: true });
      expect(throughNest).toHaveBeenCalledTimes(1);
    } finally {
      client.ws.terminate();
      throughNest.mockRestore();
    }
  });
});

/** Two governed gateways sharing one server (the default path): each binds its own handlers. */
@WebSocketGateway()
class FirstShared extends WebSocketManagerGateway {
  @SubscribeMessage('first') first(@MessageBody() data: unknown) {
    return { event: 'first', data };
  }
}

@WebSocketGateway()
class SecondShared extends WebSocketManagerGateway {
  @SubscribeMessage('second') second(@MessageBody() data: unknown) {
    return { event: 'second', data };
  }
}

describe('gateways sharing a server', () => {
  let app: INestApplication;

  afterAll(() => app?.close());

  it('admits the socket once, reads each frame once, and answers each event from the gateway that declares it', async () => {
    const started = await startApp([FirstShared, SecondShared]);
    app = started.app;
    const client = new TestClient(new WebSocket(`ws://127.0.0.1:${started.port}/ws?user=shared`));
    try {
      await client.next('session');
      const frames: Frame[] = [];
      client.ws.on('message', (raw) => frames.push(JSON.parse(String(raw)) as Frame));
      expect(await app.get<ManagerRegistry>(MANAGER_REGISTRY).countByUser('shared')).toBe(1); // admitted once, not by each gateway
      client.ws.send('not json');
      client.send('wsm:ping');
      client.send('first', 1);
      client.send('second', 2);
      client.send('first', 3);
      // One answer per frame.
      await expect.poll(() => frames.filter((f) => f.event === 'first' || f.event === 'second').length).toBe(3);
      await new Promise((r) => setTimeout(r, 100)); // a duplicate would come within the same turns
      expect(frames.filter((f) => f.event === 'first' || f.event === 'second')).toEqual([
        { event: 'first', data: 1 },
        { event: 'second', data: 2 },
        { event: 'first', data: 3 },
      ]);
      // The frame is read once for both gateways: one BAD_MESSAGE, one app pong.
      expect(frames.filter((f) => f.event === 'error')).toEqual([{ event: 'error', data: { code: 'BAD_MESSAGE' } }]);
      expect(frames.filter((f) => f.event === 'wsm:pong')).toHaveLength(1);
    } finally {
      client.ws.terminate();
    }
  });
});
