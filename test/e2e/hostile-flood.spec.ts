import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketManagerMetrics } from '../../src/index.js';
import { startExampleApp, type RunningApp } from '../support/app-harness.js';
import { HostileClientProcess } from '../support/client-process.js';

describe('a one-user flood (5 sockets sending echo as fast as they can, in their own process)', () => {
  let running: RunningApp | undefined;
  const children: HostileClientProcess[] = [];
  afterEach(async () => {
    for (const child of children.splice(0)) child.kill();
    await running?.close();
    running = undefined;
  });

  it('is rate limited (RATE_LIMITED once per burst, then 4008) while a bystander keeps being served', async () => {
    running = await startExampleApp(); // the default budget: on
    const { client: bystander } = await running.connect('bystander', 'main');
    const flood = HostileClientProcess.start('flood', running.url({ token: await running.token('flooder'), context: 'f' }), { sockets: 5 });
    children.push(flood);
    await flood.waitFor('session', 1);

    // The bystander's echoes are all answered, in order, from the flood's start to its end.
    for (let i = 0; i < 50; i++) {
      bystander.send('echo', i);
      expect((await bystander.next('echo', 15_000)).data).toBe(i);
    }
    const closes = await flood.waitFor('closed', 5, 30_000);
    expect(new Set(closes)).toEqual(new Set(['closed 4008 RATE_LIMITED']));
    const warnings = flood.linesOf('limited');
    expect(warnings.length).toBeGreaterThanOrEqual(1);
    // Once per burst, not per frame: each socket sent thousands of frames over budget.
    expect(warnings.length).toBeLessThanOrEqual(5 * 3);
    expect(bystander.ws.readyState).toBe(bystander.ws.OPEN);
    bystander.send('echo', 'after');
    expect((await bystander.next('echo')).data).toBe('after');

    const text = await running.app.get(WebSocketManagerMetrics).metrics();
    expect(text).toMatch(/ws_manager_rate_limited_total\{scope="(connection|user)",action="closed"\} [1-9]/);
  }, 60_000);
});
