import { connect } from 'node:net';
import { Logger, type INestApplication } from '@nestjs/common';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createExampleApp } from '../../example/bootstrap.js';
import { signUserToken } from '../../example/jwt-identity.js';
import { handshakeStatus, startExampleApp, TEST_SECRET, type RunningApp } from '../support/app-harness.js';

describe('handshake refusals of hostile user ids', () => {
  let running: RunningApp | undefined;
  afterEach(async () => {
    vi.restoreAllMocks();
    await running?.close();
    running = undefined;
  });

  it('refuses a token sub with a newline (400) and logs it on one escaped line', async () => {
    const lines: string[] = [];
    vi.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => void lines.push(String(message)));
    running = await startExampleApp();
    const forged = 'alice\n[Nest] 1 - WARN [WebSocketManager] refused a session of user root';
    const token = await signUserToken(TEST_SECRET, forged);
    expect(await handshakeStatus(running.url({ token, context: 'main' }))).toBe(400);
    expect(await running.registry.countByUser(forged)).toBe(0);
    const refusal = lines.find((l) => l.includes('unacceptable user id'));
    expect(refusal).toBeDefined();
    expect(refusal).not.toMatch(/[\r\n]/);
    expect(refusal).toContain('\\u000a');
  });

  it('refuses control characters, bidi overrides, lone surrogates and ids over 256 characters; admits Unicode', async () => {
    running = await startExampleApp();
    const status = async (sub: string) => handshakeStatus(running!.url({ token: await signUserToken(TEST_SECRET, sub), context: 'main' }));
    for (const sub of ['tab\there', 'nul\u0000', 'rtl\u202eevil', 'half\ud800', 'x'.repeat(257)]) {
      expect(await status(sub), JSON.stringify(sub)).toBe(400);
    }
    for (const sub of ['Zoë', '東京', '🙂', 'x'.repeat(256)]) {
      expect(await status(sub), sub).toBe(101);
    }
  });
});

describe('slow handshakes (example app HTTP timeouts)', () => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('answers 408 and closes a client that sends its upgrade headers byte by byte, instead of holding it', async () => {
    app = await createExampleApp({
      env: { WS_JWT_SECRET: TEST_SECRET, WS_CLEANUP_CRON: '0 0 0 1 1 *' },
      logger: false,
      http: { headersTimeoutMs: 1000, requestTimeoutMs: 2000, checkIntervalMs: 100 },
    });
    await app.listen(0, '127.0.0.1');
    const port = Number(new URL(await app.getUrl()).port);
    const token = await signUserToken(TEST_SECRET, 'slow');
    const request =
      `GET /ws?token=${token}&context=main HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    let sentBytes = 0;
    socket.on('data', (chunk) => (answer += String(chunk)));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    // One byte every 50 ms: the whole request would take over 20 s.
    const drip = setInterval(() => {
      if (sentBytes < request.length && !socket.destroyed) socket.write(request[sentBytes++]!);
    }, 50);
    await closed;
    clearInterval(drip);
    expect(sentBytes).toBeLessThan(request.length);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
  }, 30_000);
});
