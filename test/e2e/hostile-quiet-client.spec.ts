import { afterEach, describe, expect, it } from 'vitest';
import { HealthAssessmentService, HealthClass } from '../../src/index.js';
import { startExampleApp, type RunningApp } from '../support/app-harness.js';
import { HostileClientProcess } from '../support/client-process.js';
import { waitFor } from '../support/socket-harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Contract I2: a session whose socket is open and answers pings is closed only when its user is
// at the limit and the level reached names its class. A dashboard that only listens is such a session.
describe('a receive-only client (open, answering pings, never sending)', () => {
  let running: RunningApp | undefined;
  const children: HostileClientProcess[] = [];
  afterEach(async () => {
    for (const child of children.splice(0)) child.kill();
    await running?.close();
    running = undefined;
  });

  it('stays connected past the inactive threshold with a sweep every second, and is picked only at the limit', async () => {
    running = await startExampleApp({
      WS_IDLE_THRESHOLD_MS: '1000',
      WS_INACTIVE_THRESHOLD_MS: '1500',
      WS_CLEANUP_CRON: '* * * * * *',
      WS_HEARTBEAT_INTERVAL_MS: '300',
      WS_HEARTBEAT_TIMEOUT_MS: '3000',
      WS_MAX_MANAGERS_PER_USER: '2',
      WS_MAX_CLEANUP_LEVEL: 'moderate',
    });
    const dashboard = HostileClientProcess.start('receive-only', running.url({ token: await running.token('u1'), context: 'dashboard' }));
    children.push(dashboard);
    const managerId = (await dashboard.waitFor('session'))[0]!.split(' ')[1]!;
    const manager = running.factory.get(managerId)!;
    const health = running.app.get(HealthAssessmentService);

    await waitFor(() => health.classOf(manager) === HealthClass.Inactive, 10_000, 'the dashboard to turn inactive');
    const pongsBefore = [...manager.connections][0]!.lastHeardAt;
    // Several sweeps (one a second) with the session inactive: none may evict it.
    await sleep(3500);
    expect(dashboard.linesOf('closed')).toEqual([]);
    expect(running.factory.get(managerId)?.isConnected).toBe(true);
    expect([...manager.connections][0]!.lastHeardAt).toBeGreaterThan(pongsBefore); // it did answer pings meanwhile
    expect(health.classOf(manager)).toBe(HealthClass.Inactive);

    // At the limit, the level that names `inactive` (moderate) takes it, and only it.
    const { client: active } = await running.connect('u1', 'active');
    active.send('echo', 'still here');
    await active.next('echo');
    const { session: third } = await running.connect('u1', 'third');
    expect(third.data.cleanup).toMatchObject({ freed: true });
    expect(await dashboard.waitFor('closed')).toEqual(['closed 4001 EVICTED']);
    expect(active.ws.readyState).toBe(active.ws.OPEN);
    expect(running.factory.get(managerId)).toBeUndefined();
  });
});
