import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SessionClient } from '../../bench/soak/session-client.js';
import { CHAOS_BACKENDS, ChaosCluster, ChaosRedis, CONVERGENCE_TIMEOUT_MS } from '../support/cluster-harness.js';
import { waitFor } from '../support/socket-harness.js';

const LIMIT = 20;

/** Waits (without failing) until every client got `answers` join answers or closed: the storm is over. */
async function stormOver(clients: readonly SessionClient[], answers: number): Promise<void> {
  const answered = (c: SessionClient) => c.close !== undefined || c.framesOf('joined').length + c.framesOf('error').length >= answers;
  await waitFor(() => clients.every(answered), CONVERGENCE_TIMEOUT_MS, 'join answers').catch(() => undefined);
}

/** Refusals that reported room: `active` below the limit. */
function falseRefusals(clients: Iterable<SessionClient>): unknown[] {
  return [...clients].flatMap((c) => c.refusals.filter((f) => !(f.data.active >= f.data.limit)).map((f) => ({ context: c.context, ...f.data })));
}

// Each case runs on the shared single Redis and on a local Redis Cluster of 3 primaries (one per
// file, started in beforeAll): the same storms, the same invariants, read from every primary.
describe.each(CHAOS_BACKENDS)('on %s Redis', (backend) => {
  const redis = new ChaosRedis(backend);
  beforeAll(() => redis.start(), 60_000);
  afterAll(() => redis.stop());

  describe('storms', () => {
    let cluster: ChaosCluster;
    afterEach(() => cluster.stop());

    // On today's main (061a13f) this FAILS: after the storm sockets stay open on managers the
    // registry no longer knows (I3), more live managers than the registry counts, and refusals
    // reporting `active` below the limit (as the issue describes: "active: 1").
    it('100 concurrent connects to one context over two instances leave exactly one holder, all counted', { timeout: 120_000 }, async () => {
      cluster = new ChaosCluster(redis.url, { WS_MAX_MANAGERS_PER_USER: String(LIMIT) });
      const [a, b] = [await cluster.start('node-a'), await cluster.start('node-b')];
      const hot = Array.from({ length: 100 }, (_, i) => cluster.open(i % 2 ? a : b, 'u1', 'hot'));
      const others = Array.from({ length: 15 }, (_, i) => cluster.open(i % 2 ? b : a, 'u1', `other-${i}`));
      const [hotClients, otherClients] = [await Promise.all(hot), await Promise.all(others)];
      await Promise.all([...hotClients, ...otherClients].map((c) => c.outcome));

      expect(await cluster.converged(['u1'], LIMIT), cluster.output()).toEqual([]);
      const holders = hotClients.filter((c) => c.holding);
      expect(holders.length, 'the newest connection to "hot" still holds it').toBeGreaterThan(0);
      expect(new Set(holders.map((c) => `${c.nodeId}/${c.managerId}`)).size).toBe(1);
      // 16 contexts for a limit of 20: every other context was admitted and stays.
      for (const c of otherClients) expect(c.holding, `${c.context} holds its session`).toBe(true);
      expect(falseRefusals(cluster.clients)).toEqual([]);
    });

    // On today's main (061a13f) this FAILS: the managers' open connections sum to far more than
    // the 10 open sockets (a socket stays attached to the managers it left; the issue saw 33-42).
    it('10 sockets each sending 10 joins to random contexts: each socket in exactly one manager', { timeout: 120_000 }, async () => {
      cluster = new ChaosCluster(redis.url, { WS_MAX_MANAGERS_PER_USER: String(LIMIT) });
      const a = await cluster.start('node-a');
      const sockets: SessionClient[] = [];
      for (let i = 0; i < 10; i++) {
        const { client, outcome } = await cluster.connect(a, 'u1', `s${i}`);
        expect(outcome).toBe('session');
        sockets.push(client);
      }
      // A fixed pseudo-random plan (30 contexts for a limit of 20, so some joins meet the limit).
      let seed = 9;
      const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed / 2 ** 31);
      for (let round = 0; round < 10; round++) for (const s of sockets) s.join(`j${Math.floor(random() * 30)}`);
      await stormOver(sockets, 10);

      expect(await cluster.converged(['u1'], LIMIT), cluster.output()).toEqual([]);
      expect((await cluster.connect(a, 'u1', 'second-tab')).outcome, 'a new tab still gets in').toBe('session');
      expect(await cluster.converged(['u1'], LIMIT), cluster.output()).toEqual([]);
    });

    // On today's main (061a13f) this FAILS: the socket ends up attached to 20 managers, all
    // connected and healthy, and the user's second tab is refused with 4029.
    it('one socket sending 25 joins back to back ends in one manager, and a second tab gets in', { timeout: 120_000 }, async () => {
      cluster = new ChaosCluster(redis.url, { WS_MAX_MANAGERS_PER_USER: String(LIMIT) });
      const a = await cluster.start('node-a');
      const { client, outcome } = await cluster.connect(a, 'u1', 'start');
      expect(outcome).toBe('session');
      for (let i = 0; i < 25; i++) client.join(`k${i}`);
      await stormOver([client], 25);

      expect(await cluster.converged(['u1'], LIMIT), cluster.output()).toEqual([]);
      expect(client.holding).toBe(true);
      const mine = (await a.localManagers('u1')).filter((e) => (e.connections ?? 0) > 0);
      expect(mine.map((e) => e.managerId)).toEqual([client.managerId]);
      expect((await cluster.connect(a, 'u1', 'second-tab')).outcome, 'a new tab still gets in').toBe('session');
      expect(await cluster.converged(['u1'], LIMIT), cluster.output()).toEqual([]);
    });
  });
});
