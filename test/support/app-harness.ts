import type { INestApplication } from '@nestjs/common';
import { WebSocket, type ClientOptions } from 'ws';
import { createExampleApp } from '../../example/bootstrap.js';
import { signUserToken } from '../../example/jwt-identity.js';
import { MANAGER_REGISTRY, WebSocketManagerFactory, type ManagerRegistry } from '../../src/index.js';

export const TEST_SECRET = 'test-secret-0123456789abcdef';

/** One frame received by a {@link TestClient}. */
export interface Frame {
  event: string;
  // oxlint-disable-next-line typescript/no-explicit-any -- each test asserts the shape it expects
  data: any;
}

/** A real `ws` client that queues what it receives. */
export class TestClient {
  private readonly frames: Frame[] = [];
  private readonly waiters: (() => void)[] = [];
  /** Resolves with the close code and reason once the socket closed. */
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(readonly ws: WebSocket) {
    ws.on('error', () => undefined);
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(String(data)) as Frame);
      this.waiters.splice(0).forEach((w) => w());
    });
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
  }

  /** The next frame (optionally the next with `event`), waiting up to `timeoutMs`. */
  async next(event?: string, timeoutMs = 5000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.frames.findIndex((f) => event === undefined || f.event === event);
      if (index >= 0) return this.frames.splice(index, 1)[0]!;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${event ?? 'frame'} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => (clearTimeout(timer), resolve()));
      });
    }
  }

  /** Frames received and not yet taken. */
  get pending(): readonly Frame[] {
    return this.frames;
  }

  send(event: string, data?: unknown): void {
    this.ws.send(JSON.stringify({ event, data }));
  }
}

/** The example application listening on a free loopback port. */
export interface RunningApp {
  app: INestApplication;
  port: number;
  factory: WebSocketManagerFactory;
  registry: ManagerRegistry;
  token(userId: string, expiresIn?: string | number): Promise<string>;
  url(query: Record<string, string | undefined>): string;
  /** Opens a client for `userId` (and `context`) and waits for it to open. */
  open(userId: string, context?: string, options?: ClientOptions): Promise<TestClient>;
  /** Opens a client and waits for its `session`. */
  connect(userId: string, context?: string, options?: ClientOptions): Promise<{ client: TestClient; session: Frame }>;
  close(): Promise<void>;
}

/** Starts the example app with `env` on port 0 (the cron sweep off unless `env` sets it). */
export async function startExampleApp(env: Record<string, string> = {}): Promise<RunningApp> {
  const app = await createExampleApp({
    env: { WS_JWT_SECRET: TEST_SECRET, WS_CLEANUP_CRON: '0 0 0 1 1 *', ...env },
    logger: process.env.TEST_LOGS ? undefined : false,
  });
  await app.listen(0, '127.0.0.1');
  const port = Number(new URL(await app.getUrl()).port);
  const clients = new Set<WebSocket>();
  const url = (query: Record<string, string | undefined>) => {
    const u = new URL(`ws://127.0.0.1:${port}${env.WS_PATH ?? '/ws'}`);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) u.searchParams.set(k, v);
    return u.toString();
  };
  const token = (userId: string, expiresIn?: string | number) => signUserToken(TEST_SECRET, userId, expiresIn);
  const open = async (userId: string, context?: string, options?: ClientOptions) => {
    const ws = new WebSocket(url({ token: await token(userId), context }), options);
    clients.add(ws);
    const client = new TestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
    return client;
  };
  return {
    app,
    port,
    factory: app.get(WebSocketManagerFactory),
    registry: app.get<ManagerRegistry>(MANAGER_REGISTRY),
    token,
    url,
    open,
    async connect(userId, context, options) {
      const client = await open(userId, context, options);
      return { client, session: await client.next() };
    },
    async close() {
      for (const ws of clients) ws.terminate();
      await app.close();
    },
  };
}

/** Resolves with the HTTP status of a refused upgrade (or 101 if it was accepted). */
export function handshakeStatus(url: string, options: ClientOptions = {}): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, options);
    ws.on('error', () => undefined);
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.once('open', () => {
      resolve(101);
      ws.terminate();
    });
  });
}
