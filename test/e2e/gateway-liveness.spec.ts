import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { HealthClass } from '../../src/index.js';
import { startExampleApp, type RunningApp } from '../support/app-harness.js';
import { destroyTcp, waitFor } from '../support/socket-harness.js';

const CLIENT_PROCESS = fileURLToPath(new URL('../support/ws-client-process.mjs', import.meta.url));

/** A client in its own process; resolves once it has its session. */
async function spawnClient(url: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLIENT_PROCESS, url], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += String(chunk);
      if (out.includes('session ')) resolve();
      if (out.includes('error ')) reject(new Error(out));
    });
    child.once('exit', () => reject(new Error(`client exited: ${out}`)));
  });
  return child;
}

describe('liveness with real broken peers', () => {
  let running: RunningApp | undefined;
  const children: ChildProcess[] = [];
  afterEach(async () => {
    for (const child of children.splice(0)) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
    await running?.close();
    running = undefined;
  });

  it('detaches a destroy()ed peer at once and its context resumes', async () => {
    running = await startExampleApp();
    const { client, session } = await running.connect('u1', 'laptop');
    destroyTcp(client.ws);
    const manager = running.factory.get(session.data.managerId)!;
    await waitFor(() => !manager.isConnected, 2000, 'detach after destroy');
    const [assessment] = await running.app.get(await import('../../src/index.js').then((m) => m.HealthAssessmentService)).assessUser('u1');
    expect(assessment!.health).toBe(HealthClass.Detached);
    const again = await running.connect('u1', 'laptop');
    expect(again.session.data).toMatchObject({ managerId: session.data.managerId, resumed: true });
  });

  it('does not keep the manager of a socket that closed while its admission waited for the probe', async () => {
    running = await startExampleApp({ WS_MAX_MANAGERS_PER_USER: '2', WS_PROBE_TIMEOUT_MS: '400', WS_HEARTBEAT_INTERVAL_MS: '60000' });
    await running.connect('u1', 'silent', { autoPong: false });
    await running.connect('u1', 'alive');
    await new Promise((r) => setTimeout(r, 450)); // neither heard recently: both get probed
    const impatient = await running.open('u1', 'impatient');
    impatient.ws.close(); // leaves while the probe waits
    await impatient.closed;
    await waitFor(async () => (await running!.registry.countByUser('u1')) === 1, 3000, 'the silent one removed and nothing new kept');
    await new Promise((r) => setTimeout(r, 300));
    expect(running.factory.listLocal('u1').map((m) => m.context)).toEqual(['alive']);
  });

  it('terminates a client that stops answering pings (autoPong: false) within interval + timeout', async () => {
    running = await startExampleApp({ WS_HEARTBEAT_INTERVAL_MS: '200', WS_HEARTBEAT_TIMEOUT_MS: '200' });
    const silent = await running.connect('u1', 'silent', { autoPong: false });
    const healthy = await running.connect('u1', 'healthy');
    const started = Date.now();
    const closed = await silent.client.closed;
    const elapsed = Date.now() - started;
    expect(closed.code).toBe(1006); // terminated: no close frame
    expect(elapsed).toBeLessThan(200 + 200 + 500);
    await waitFor(() => !running!.factory.get(silent.session.data.managerId)!.isConnected, 2000, 'detach');
    // A client that answers is never terminated, over many heartbeat periods.
    await new Promise((r) => setTimeout(r, 800));
    expect(healthy.client.ws.readyState).toBe(healthy.client.ws.OPEN);
  });

  it('terminates a SIGSTOPped client process within interval + timeout', async () => {
    running = await startExampleApp({ WS_HEARTBEAT_INTERVAL_MS: '300', WS_HEARTBEAT_TIMEOUT_MS: '300' });
    const child = await spawnClient(running.url({ token: await running.token('u1'), context: 'frozen' }));
    children.push(child);
    const [manager] = running.factory.listLocal('u1');
    expect(manager!.isConnected).toBe(true);
    child.kill('SIGSTOP');
    const started = Date.now();
    await waitFor(() => !manager!.isConnected, 3000, 'heartbeat termination of the frozen client');
    expect(Date.now() - started).toBeLessThan(300 + 300 + 700);
  });

  it('finds a SIGSTOPped client promptly through the admission probe and takes its slot', async () => {
    // Heartbeat far away: only the admission-time probe can notice the frozen peer.
    running = await startExampleApp({ WS_MAX_MANAGERS_PER_USER: '2', WS_PROBE_TIMEOUT_MS: '300', WS_HEARTBEAT_INTERVAL_MS: '60000' });
    const child = await spawnClient(running.url({ token: await running.token('u1'), context: 'frozen' }));
    children.push(child);
    const alive = await running.connect('u1', 'alive');
    child.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, 350)); // let both be "not heard recently"
    const started = Date.now();
    const third = await running.connect('u1', 'third');
    const waited = Date.now() - started;
    expect(third.session.event).toBe('session');
    expect(third.session.data.cleanup).toMatchObject({
      // The live one may have just answered a heartbeat ping (then it is not probed): the frozen one is.
      probe: expect.objectContaining({ unresponsive: 1 }),
      levels: [expect.objectContaining({ level: 'conservative', removed: 0 }), expect.objectContaining({ level: 'moderate', removed: 1, reasons: { probe_failed: 1 } })],
    });
    expect(waited).toBeLessThan(2000);
    expect(alive.client.ws.readyState).toBe(alive.client.ws.OPEN);
    expect(await running.registry.countByUser('u1')).toBe(2);
  });
});
