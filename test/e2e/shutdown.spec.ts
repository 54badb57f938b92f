import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { signUserToken } from '../../example/jwt-identity.js';
import { startExampleApp, TEST_SECRET, TestClient } from '../support/app-harness.js';
import { WebSocket } from 'ws';

const MAIN = fileURLToPath(new URL('../../dist/example/main.js', import.meta.url));

describe('example application shutdown', () => {
  it('closes every connection with 1001 on SIGTERM and exits 0', async () => {
    const app = spawn(process.execPath, [MAIN], {
      env: { ...process.env, PORT: '0', WS_JWT_SECRET: TEST_SECRET, WS_SHUTDOWN_TIMEOUT_MS: '3000', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const port = await new Promise<number>((resolve, reject) => {
      app.stdout!.on('data', (chunk: Buffer) => {
        out += String(chunk);
        const match = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
        if (match) resolve(Number(match[1]));
      });
      app.once('exit', (code) => reject(new Error(`app exited ${code}: ${out}`)));
    });
    const exited = new Promise<number | null>((resolve) => app.once('exit', (code) => resolve(code)));
    const token = await signUserToken(TEST_SECRET, 'u1');
    const clients = await Promise.all(
      ['a', 'b', 'c'].map(async (context) => {
        const client = new TestClient(new WebSocket(`ws://127.0.0.1:${port}/ws?token=${token}&context=${context}`));
        await client.next('session');
        return client;
      }),
    );
    const started = Date.now();
    app.kill('SIGTERM');
    for (const client of clients) expect(await client.closed).toEqual({ code: 1001, reason: 'SERVER_SHUTDOWN' });
    expect(await exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('closes upgrades that arrive while it drains with 1001 at once', async () => {
    const running = await startExampleApp({ WS_SHUTDOWN_TIMEOUT_MS: '2000' });
    const clientScript = fileURLToPath(new URL('../support/ws-client-process.mjs', import.meta.url));
    // A frozen peer never completes the close handshake, which keeps the drain open.
    const frozen = spawn(process.execPath, [clientScript, running.url({ token: await running.token('u1'), context: 'frozen' })], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await new Promise<void>((resolve) => frozen.stdout!.on('data', (c: Buffer) => String(c).includes('session') && resolve()));
      frozen.kill('SIGSTOP');
      const closing = running.app.close();
      await new Promise((r) => setTimeout(r, 200));
      const late = await running.open('u2', 'late');
      const started = Date.now();
      expect(await late.closed).toEqual({ code: 1001, reason: 'SERVER_SHUTDOWN' });
      expect(Date.now() - started).toBeLessThan(1000);
      expect(await running.registry.countByUser('u2')).toBe(0);
      await closing;
    } finally {
      frozen.kill('SIGKILL');
    }
  });
});
