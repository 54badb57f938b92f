import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { runNodeClient } from '../../example/node-client.js';
import { startExampleApp, type RunningApp } from '../support/app-harness.js';

// The README's Node snippet (example/node-client.ts) against the example app.
describe('Node client snippet (ws)', () => {
  let running: RunningApp | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it('authenticates with Authorization: Bearer, gets session then the echo, and closes normally', async () => {
    running = await startExampleApp();
    const result = await runNodeClient(running.url({ context: 'node-cli' }), await running.token('node-user'));
    expect(result.frames).toEqual([
      { event: 'session', data: { managerId: expect.any(String), context: 'node-cli', resumed: false, limit: 20, active: 1, cleanup: null } },
      { event: 'echo', data: 'hello' },
    ]);
    expect(result).toMatchObject({ code: 1000, reason: 'done', meaning: 'normal closure' });
    // A normal close detaches the manager; it stays resumable and counted.
    expect((await running.registry.listByUser('node-user')).map((r) => r.context)).toEqual(['node-cli']);

    const again = await runNodeClient(running.url({ context: 'node-cli' }), await running.token('node-user'));
    expect(again.frames[0]).toMatchObject({ event: 'session', data: { managerId: (result.frames[0]!.data as { managerId: string }).managerId, resumed: true } });
  });

  it('at the per-user limit, receives MANAGER_LIMIT_REACHED then close 4029 with its meaning', async () => {
    running = await startExampleApp({ WS_MAX_MANAGERS_PER_USER: '1', WS_MAX_CLEANUP_LEVEL: 'moderate' });
    await running.connect('node-user', 'held'); // healthy: answers the admission probe
    const result = await runNodeClient(running.url({ context: 'node-cli' }), await running.token('node-user'));
    expect(result.frames).toEqual([
      { event: 'error', data: { code: 'MANAGER_LIMIT_REACHED', limit: 1, active: 1, retryAfterMs: null, reason: 'sessions_in_use' } },
    ]);
    const { retryAfterMs } = result.frames[0]!.data as { retryAfterMs: number };
    expect(result).toMatchObject({
      code: 4029,
      reason: 'MANAGER_LIMIT_REACHED',
      meaning: `per-user limit reached (1/1 sessions): retry after ${retryAfterMs} ms or close another session`,
    });
  });

  it('a refused handshake (bad token) ends with 1006 and names the HTTP 401', async () => {
    running = await startExampleApp();
    const result = await runNodeClient(running.url({ context: 'node-cli' }), 'not-a-jwt');
    expect(result.frames).toEqual([]);
    expect(result.code).toBe(1006);
    expect(result.error).toBe('Unexpected server response: 401');
    expect(result.meaning).toContain('handshake was refused');
    expect(result.meaning).toContain('401');
  });

  it('CLI mode (node dist/example/node-client.js URL JWT) prints the frames and the close, exit 0', async () => {
    running = await startExampleApp();
    const child = spawn(process.execPath, ['dist/example/node-client.js', running.url({ context: 'cli' })], {
      env: { ...process.env, WS_TOKEN: await running.token('cli-user') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += String(chunk)));
    child.stderr.on('data', (chunk: Buffer) => (err += String(chunk)));
    const exitCode = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect({ exitCode, err }).toEqual({ exitCode: 0, err: '' });
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(JSON.parse(lines[0]!.replace(/^← /, ''))).toMatchObject({ event: 'session', data: { context: 'cli', resumed: false } });
    expect(lines[1]).toBe('← {"event":"echo","data":"hello"}');
    expect(lines[2]).toBe('closed 1000 done: normal closure');
  });
});
