import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { startNodeClient } from '../../example/node-client.js';
import { startExampleApp, type RunningApp } from '../support/app-harness.js';
import { waitFor } from '../support/socket-harness.js';

// The README's Node snippet (example/node-client.ts, on nestjs-websocket-manager/client) against the example app.
describe('Node client example (nestjs-websocket-manager/client with ws)', () => {
  let running: RunningApp | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it('gets the session, then the echo, and stops after close(); a second run resumes the same manager', async () => {
    running = await startExampleApp();
    const { result } = startNodeClient(running.url({}), await running.token('node-user'), 'node-cli');
    const first = await result;
    expect(first.session).toMatchObject({ context: 'node-cli', resumed: false, limit: 20, active: 1, cleanup: null });
    expect(first.lines).toEqual([`← session ${JSON.stringify(first.session)}`, '← echo "hello"']);
    expect(first.stopped).toEqual({ reason: 'closed', code: null });
    // close() detaches the manager; it stays resumable and counted.
    expect((await running.registry.listByUser('node-user')).map((r) => r.context)).toEqual(['node-cli']);

    const again = await startNodeClient(running.url({}), await running.token('node-user'), 'node-cli').result;
    expect(again.session).toMatchObject({ managerId: first.session!.managerId, resumed: true });
  });

  it('at the per-user limit: MANAGER_LIMIT_REACHED, close 4029; with nothing to free (retryAfterMs null) it waits long', async () => {
    running = await startExampleApp({ WS_MAX_MANAGERS_PER_USER: '1', WS_MAX_CLEANUP_LEVEL: 'moderate' });
    await running.connect('node-user', 'held'); // healthy: answers the admission probe
    const { client, result } = startNodeClient(running.url({}), await running.token('node-user'), 'node-cli');
    const errors: { code: string; retryAfterMs?: number | null }[] = [];
    client.on('error', (e) => errors.push(e));
    await waitFor(() => client.status === 'reconnecting', 10_000, '4029');
    expect(errors).toEqual([{ code: 'MANAGER_LIMIT_REACHED', limit: 1, active: 1, retryAfterMs: null, reason: 'sessions_in_use' }]);
    client.close();
    const { disconnects, stopped } = await result;
    expect(disconnects).toEqual([{ code: 4029, reason: 'MANAGER_LIMIT_REACHED', reconnectInMs: expect.any(Number) }]);
    expect(disconnects[0]!.reconnectInMs).toBeGreaterThanOrEqual(10_000); // half the 20 s cap at least
    expect(stopped.reason).toBe('closed');
  });

  it('at the per-user limit with a detached session: the next attempt waits retryAfterMs (its resume window)', async () => {
    running = await startExampleApp({ WS_MAX_MANAGERS_PER_USER: '1', WS_MAX_CLEANUP_LEVEL: 'moderate' });
    const held = await running.connect('node-user', 'held');
    held.client.ws.close();
    await waitFor(async () => (await running!.registry.listByUser('node-user'))[0]?.detachedAt != null, 10_000, 'held detached');
    const { client, result } = startNodeClient(running.url({}), await running.token('node-user'), 'node-cli');
    const errors: { code: string; retryAfterMs?: number | null }[] = [];
    client.on('error', (e) => errors.push(e));
    await waitFor(() => client.status === 'reconnecting', 10_000, '4029');
    expect(errors).toEqual([{ code: 'MANAGER_LIMIT_REACHED', limit: 1, active: 1, retryAfterMs: expect.any(Number), reason: 'resume_window_expiry' }]);
    client.close();
    const { disconnects } = await result;
    expect(disconnects[0]!.reconnectInMs).toBeGreaterThanOrEqual(errors[0]!.retryAfterMs!);
  });

  it('a refused handshake (bad token): the token is asked once more, then it stops as unauthorized', async () => {
    running = await startExampleApp();
    const { result } = startNodeClient(running.url({}), 'not-a-jwt', 'node-cli');
    const { session, disconnects, stopped } = await result;
    expect(session).toBeNull();
    expect(disconnects.map((d) => d.code)).toEqual([1006]); // the second refusal stops it
    expect(stopped).toEqual({ reason: 'unauthorized', code: null });
  });

  it('CLI mode (WS_TOKEN=JWT node dist/example/node-client.js URL \'\' CONTEXT) prints the session, the echo and the stop, exit 0', async () => {
    running = await startExampleApp();
    const child = spawn(process.execPath, ['dist/example/node-client.js', running.url({}), '', 'cli'], {
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
    expect(JSON.parse(lines[0]!.replace(/^← session /, ''))).toMatchObject({ context: 'cli', resumed: false });
    expect(lines[1]).toBe('← echo "hello"');
    expect(lines[2]).toBe('stopped: closed');
  });
});
