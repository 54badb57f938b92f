import type { Server } from 'node:http';
import { connect as tcpConnect } from 'node:net';
import { Logger, type INestApplication } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { bearerTokenOf, WebSocketManagerAdapter, WebSocketManagerGateway, WebSocketManagerModule } from '../../src/index.js';
import { TestClient } from '../support/app-harness.js';

/** Governed, at the module's `path` option (/ws). */
@WebSocketGateway()
class ManagedGateway extends WebSocketManagerGateway {
  @SubscribeMessage('echo')
  echo(@MessageBody() data: unknown): { event: string; data: unknown } {
    return { event: 'echo', data };
  }
}

/** Not governed: Nest's WsAdapter behaviour, its own path. */
@WebSocketGateway({ path: '/plain' })
class PlainGateway {
  @SubscribeMessage('ping')
  ping(): { event: string; data: string } {
    return { event: 'pong', data: 'plain' };
  }
}

/** The status line of a raw upgrade request for `target` (`closed` when the server cut it without one). */
function rawUpgrade(port: number, target: string, token = 'u1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, '127.0.0.1', () => {
      socket.write(
        `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${token}\r\n\r\n`,
      );
    });
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      if (text.includes('\r\n')) {
        socket.destroy();
        resolve(text.slice(0, text.indexOf('\r\n')));
      }
    });
    socket.on('close', () => resolve(text ? text.split('\r\n')[0]! : 'closed'));
    socket.on('error', reject);
  });
}

describe('upgrade routing', () => {
  let app: INestApplication;
  let port: number;
  let httpServer: Server;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [ScheduleModule.forRoot(), WebSocketManagerModule.forRoot({ identityResolver: (request) => bearerTokenOf(request) ?? null, cleanupCron: '0 0 0 1 1 *' })],
      providers: [ManagedGateway, PlainGateway],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    app.useWebSocketAdapter(new WebSocketManagerAdapter(app));
    await app.listen(0, '127.0.0.1');
    port = Number(new URL(await app.getUrl()).port);
    httpServer = app.getHttpServer() as Server;
  });
  afterAll(() => app?.close());

  it('sends an upgrade at a governed path straight to its server, without building a URL', async () => {
    const realUrl = globalThis.URL;
    let built = 0;
    // Counts URLs built while the upgrade is routed and the session established.
    globalThis.URL = class extends realUrl {
      constructor(...args: ConstructorParameters<typeof URL>) {
        super(...args);
        built++;
      }
    } as typeof URL;
    let client: TestClient;
    try {
      client = new TestClient(new WebSocket(`ws://127.0.0.1:${port}/ws?context=main`, { headers: { authorization: 'Bearer ann' } }));
      expect((await client.next('session')).data).toMatchObject({ context: 'main', resumed: false });
    } finally {
      globalThis.URL = realUrl;
    }
    expect(built).toBe(0);
    client.send('echo', 42);
    expect((await client.next('echo')).data).toBe(42);
    client.ws.terminate();
  });

  it('leaves every other upgrade to Nest: plain gateways, unknown paths, paths that only match once normalised', async () => {
    const plain = new TestClient(new WebSocket(`ws://127.0.0.1:${port}/plain`));
    await new Promise((resolve) => plain.ws.once('open', resolve));
    plain.send('ping', null);
    expect((await plain.next('pong')).data).toBe('plain');
    plain.ws.terminate();

    expect(await rawUpgrade(port, '/ws?context=a')).toBe('HTTP/1.1 101 Switching Protocols');
    // Nest's listener normalises these to /ws (and the query survives): still the governed server.
    expect(await rawUpgrade(port, '/x/../ws?context=b')).toBe('HTTP/1.1 101 Switching Protocols');
    expect(await rawUpgrade(port, '/./ws?context=c')).toBe('HTTP/1.1 101 Switching Protocols');
    // Identity is still decided for them: no token, 401.
    expect(await rawUpgrade(port, '/x/../ws', '')).toMatch(/^HTTP\/1.1 401/);
    // Nest destroys the socket of an upgrade no gateway serves.
    expect(await rawUpgrade(port, '/nowhere')).toBe('closed');
    expect(await rawUpgrade(port, '/ws/extra')).toBe('closed');
  });

  it("logs a plain gateway's socket errors as Nest's WsAdapter does, each one", async () => {
    const errors = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    try {
      for (let i = 0; i < 2; i++) {
        const plain = new TestClient(new WebSocket(`ws://127.0.0.1:${port}/plain`));
        await new Promise((resolve) => plain.ws.once('open', resolve));
        plain.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false }); // not UTF-8
        expect((await plain.closed).code).toBe(1007);
      }
      expect(errors.mock.calls.filter((c) => /UTF-8/.test(String(c[0])))).toHaveLength(2);
    } finally {
      errors.mockRestore();
    }
  });

  it('keeps one upgrade listener on the HTTP server, and takes it off on close', async () => {
    expect(httpServer.listenerCount('upgrade')).toBe(1);
    await app.close();
    expect(httpServer.listenerCount('upgrade')).toBe(0);
  });
});
