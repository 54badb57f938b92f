import type { IncomingMessage } from 'node:http';
import { Logger, type INestApplication } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { Observable, throwError } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import {
  ManagerLifecycleService,
  WebSocketManagerAdapter,
  WebSocketManagerGateway,
  WebSocketManagerModule,
} from '../../src/index.js';
import { TestClient } from '../support/app-harness.js';
import { waitFor } from '../support/socket-harness.js';

/** Handlers that fail in every way a host's code can. */
@WebSocketGateway()
class FragileGateway extends WebSocketManagerGateway {
  /** Subscriptions of `ticks` still running. */
  live = 0;

  @SubscribeMessage('explode')
  explode(): never {
    throw new Error('handler bug');
  }

  @SubscribeMessage('explode$')
  explode$(): Observable<never> {
    return throwError(() => new Error('observable handler bug'));
  }

  @SubscribeMessage('ticks')
  async ticks(@ConnectedSocket() client: WebSocket): Promise<Observable<{ event: string; data: number }>> {
    await this.admitted(client);
    return new Observable((subscriber) => {
      this.live++;
      let n = 0;
      const timer = setInterval(() => subscriber.next({ event: 'tick', data: n++ }), 20);
      return () => {
        this.live--;
        clearInterval(timer);
      };
    });
  }

  /** An answer that cannot be serialised (a BigInt): fails after the handler, in the adapter. */
  @SubscribeMessage('bigint')
  bigint(): { event: string; data: bigint } {
    return { event: 'big', data: 1n };
  }

  @SubscribeMessage('echo')
  echo(@MessageBody() data: unknown): { event: string; data: unknown } {
    return { event: 'echo', data };
  }
}

const userOf = (request: IncomingMessage) => new URL(request.url ?? '/', 'http://x').searchParams.get('user');

async function start(): Promise<{ app: INestApplication; url: (user: string) => string }> {
  const moduleRef = await Test.createTestingModule({
    imports: [ScheduleModule.forRoot(), WebSocketManagerModule.forRoot({ identityResolver: userOf, cleanupCron: '0 0 0 1 1 *' })],
    providers: [FragileGateway],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  app.useWebSocketAdapter(new WebSocketManagerAdapter(app));
  await app.listen(0, '127.0.0.1');
  const port = Number(new URL(await app.getUrl()).port);
  return { app, url: (user) => `ws://127.0.0.1:${port}/ws?user=${encodeURIComponent(user)}` };
}

async function connect(url: string): Promise<TestClient> {
  const client = new TestClient(new WebSocket(url));
  await client.next('session');
  return client;
}

describe('crash and hang paths', () => {
  let app: INestApplication | undefined;
  const clients: TestClient[] = [];
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const c of clients.splice(0)) c.ws.terminate();
    await app?.close();
    app = undefined;
  });

  async function setup() {
    const started = await start();
    app = started.app;
    const open = async (user: string) => {
      const client = await connect(started.url(user));
      clients.push(client);
      return client;
    };
    return { ...started, open };
  }

  it('a throwing lifecycle subscriber leaves the process up and the module working', async () => {
    const errors = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const s = await setup();
    s.app.get(ManagerLifecycleService).events$.subscribe(() => {
      throw new Error('subscriber bug');
    });
    // Every admission emits events: each would have been an uncaught exception (a dead process).
    for (const user of ['a', 'b', 'c']) {
      const client = await s.open(user);
      client.send('echo', user);
      expect((await client.next('echo')).data).toBe(user);
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(errors.mock.calls.filter((c) => String(c[0]).includes('subscriber bug'))).toHaveLength(1);
  });

  it('a throwing handler is answered INTERNAL_ERROR each time, logged once, and the socket stays usable', async () => {
    const errors = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const s = await setup();
    const client = await s.open('u');
    for (let i = 0; i < 20; i++) {
      client.send('explode');
      expect((await client.next('error')).data).toEqual({ code: 'INTERNAL_ERROR' });
    }
    for (let i = 0; i < 20; i++) {
      client.send('explode$');
      expect((await client.next('error')).data).toEqual({ code: 'INTERNAL_ERROR' });
    }
    for (let i = 0; i < 20; i++) {
      client.send('bigint');
      expect((await client.next('error')).data).toEqual({ code: 'INTERNAL_ERROR' });
    }
    client.send('echo', 'alive');
    expect((await client.next('echo')).data).toBe('alive');
    const logged = errors.mock.calls.map((c) => String(c[0]));
    expect(logged.filter((l) => l.includes('BigInt'))).toHaveLength(1);
    expect(logged.filter((l) => l.includes('handler bug') && !l.includes('observable'))).toHaveLength(1);
    expect(logged.filter((l) => l.includes('observable handler bug'))).toHaveLength(1);
  });

  it('unsubscribes a handler Observable when its socket closes', async () => {
    const s = await setup();
    const client = await s.open('u');
    const gateway = s.app.get(FragileGateway);
    client.send('ticks');
    client.send('ticks');
    await client.next('tick');
    await waitFor(() => gateway.live === 2, 5000, 'both subscriptions running');
    client.ws.terminate();
    await waitFor(() => gateway.live === 0, 5000, 'the subscriptions to end with their socket');
    expect(gateway.live).toBe(0);
  });

  it('answers nesting bombs BAD_MESSAGE without a log line per frame, and the connection stays open', async () => {
    const errors = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const warns = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const s = await setup();
    const client = await s.open('u');
    const depth = 30_000; // under the 64 KiB frame limit
    const bombs = [
      `{"event":"echo","data":${'['.repeat(depth)}${']'.repeat(depth)}}`,
      `{"event":"echo","data":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`,
      '['.repeat(60_000),
    ];
    for (let round = 0; round < 5; round++) {
      for (const bomb of bombs) {
        client.ws.send(bomb);
        expect((await client.next('error')).data).toEqual({ code: 'BAD_MESSAGE' });
      }
    }
    client.send('echo', { nested: [[[1]]] });
    expect((await client.next('echo')).data).toEqual({ nested: [[[1]]] });
    expect(errors).not.toHaveBeenCalled();
    expect(warns).not.toHaveBeenCalled();
  });
});
