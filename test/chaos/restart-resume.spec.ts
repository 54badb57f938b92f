import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ChaosCluster, sleep } from '../support/cluster-harness.js';
import { requireRedis } from '../support/redis.js';

// Every second a sweep runs on the instances (the harness's cron), and an entry of the instance's
// own node with no manager there counts as an orphan once it is older than 5 s.
const PAST_SWEEPS_MS = 8000;
const env = { WS_MAX_MANAGERS_PER_USER: '3', WS_RESUME_WINDOW_MS: '60000' };

describe('an instance restarted with the same WS_NODE_ID, its clients back after several sweeps', () => {
  beforeAll(() => requireRedis());
  let cluster: ChaosCluster;
  afterEach(() => cluster.stop());

  for (const stop of ['SIGKILL', 'SIGTERM'] as const) {
    it(`gets back the manager the registry kept, inside the resume window (${stop})`, { timeout: 90_000 }, async () => {
      cluster = new ChaosCluster(undefined, env);
      const first = await cluster.start('node-r');
      const { client, outcome } = await cluster.connect(first, 'u1', 'c0');
      expect(outcome).toBe('session');
      const managerId = client.managerId;
      if (stop === 'SIGKILL') await first.kill();
      else await first.stop();
      client.ws.terminate();

      const again = await cluster.start('node-r');
      // Long enough for the new process's sweeps to have judged the entry it does not hold.
      await sleep(PAST_SWEEPS_MS);
      const back = await cluster.connect(again, 'u1', 'c0');
      expect(back.outcome, again.recentOutput()).toBe('session');
      expect(back.client.managerId, 'the same manager, resumed').toBe(managerId);
      expect(back.client.framesOf('session').at(-1)?.data).toMatchObject({ resumed: true, active: 1 });
      expect(await cluster.converged(['u1'], 3), cluster.output()).toEqual([]);
    });
  }

  // Three entries kept for their clients, none back: a new tab gets a slot all the same, on the
  // restarted instance and on another one (which sees them detached: the restarted instance's
  // sweep records it, so another instance's emergency cleanup may remove them).
  for (const where of ['the restarted instance', 'another instance'] as const) {
    it(`still lets the user in at the limit on ${where}: what the old process held is removed when room is needed`, { timeout: 90_000 }, async () => {
      cluster = new ChaosCluster(undefined, env);
      const other = where === 'another instance' ? await cluster.start('node-o') : undefined;
      const first = await cluster.start('node-r');
      for (const context of ['c0', 'c1', 'c2']) expect((await cluster.connect(first, 'u1', context)).outcome).toBe('session');
      await first.kill();
      for (const client of cluster.clients) client.ws.terminate();
      cluster.clients.clear();

      const again = await cluster.start('node-r');
      await sleep(PAST_SWEEPS_MS);
      const { client, outcome } = await cluster.connect(other ?? again, 'u1', 'new');
      expect(outcome, JSON.stringify(client.refusals.at(-1)?.data)).toBe('session');
      expect(await cluster.converged(['u1'], 3), cluster.output()).toEqual([]);
    });
  }
});
