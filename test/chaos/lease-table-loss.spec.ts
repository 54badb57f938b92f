import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SessionClient } from '../../bench/soak/session-client.js';
import { RedisKeys } from '../../src/registry/redis/redis-keys.js';
import { CHAOS_BACKENDS, ChaosCluster, ChaosRedis, CONVERGENCE_TIMEOUT_MS, sleep } from '../support/cluster-harness.js';

const LEASE_MS = 2000;
const LIMIT = 4;
const env = { WS_LEASE_TTL_MS: String(LEASE_MS), WS_MAX_MANAGERS_PER_USER: String(LIMIT) };

/**
 * The lease table loses its data (on a cluster: the primary of its slot restarts empty with no
 * replica; anywhere: someone deletes it) while the users' entries survive on their own slots.
 * Nodes absent from the table count as alive, so that nothing live is ever reaped; without more,
 * a node that died meanwhile stayed "alive" for good and its users stayed locked out at their limit.
 */
async function loseLeaseTable(cluster: ChaosCluster): Promise<void> {
  const keys = new RedisKeys(cluster.keyPrefix);
  // Both keys share the `{leases}` slot: one DEL, as the loss of that slot's data.
  await cluster.redis.del(keys.leases(), keys.leaseTokens());
}

/**
 * Connects until admitted, waiting after each refusal what it says (`retryAfterMs`) as the
 * client SDK does; the hints seen are returned with the client.
 */
async function admittedEventually(
  cluster: ChaosCluster,
  instance: Parameters<ChaosCluster['connect']>[0],
  userId: string,
  context: string,
): Promise<{ client: SessionClient; hints: unknown[] }> {
  const deadline = Date.now() + CONVERGENCE_TIMEOUT_MS;
  const hints: unknown[] = [];
  for (;;) {
    const { client, outcome } = await cluster.connect(instance, userId, context);
    if (outcome === 'session') return { client, hints };
    cluster.clients.delete(client);
    if (Date.now() > deadline) throw new Error(`${userId}/${context} still ${outcome} after ${CONVERGENCE_TIMEOUT_MS} ms\n${cluster.output()}`);
    const data = client.refusals.at(-1)?.data as { retryAfterMs?: number | null; reason?: string } | undefined;
    hints.push(data?.reason);
    await sleep(data?.retryAfterMs ?? 1000);
  }
}

describe.each(CHAOS_BACKENDS)('on %s Redis, the lease table lost', (backend) => {
  const redis = new ChaosRedis(backend);
  beforeAll(() => redis.start(), 60_000);
  afterAll(() => redis.stop());

  let cluster: ChaosCluster;
  afterEach(() => cluster.stop());

  /** Instance B fills u1's limit and crashes (kill -9), then the lease table loses its data; resolves with A. */
  async function holderCrashesAndTableIsLost() {
    cluster = new ChaosCluster(redis.url, env);
    const [a, b] = [await cluster.start('node-a'), await cluster.start('node-b')];
    for (let i = 0; i < LIMIT; i++) expect((await cluster.connect(b, 'u1', `c${i}`)).outcome).toBe('session');
    await b.kill();
    for (const client of cluster.clients) client.ws.terminate();
    cluster.clients.clear();
    await loseLeaseTable(cluster);
    return a;
  }

  it('an instance that crashed stops counting one lease later: its users are not locked out for good', { timeout: 90_000 }, async () => {
    const a = await holderCrashesAndTableIsLost();

    // On A the user is refused while B might still be alive, then admitted once B has had a whole
    // lease to renew and did not.
    const { client, hints } = await admittedEventually(cluster, a, 'u1', 'after');
    expect(client.holding).toBe(true);
    // The refusal said when B's lease (the one it was given) runs out.
    expect(hints[0]).toBe('lease_expiry');
    expect(await cluster.converged(['u1'], LIMIT), cluster.output()).toEqual([]);
  });

  it('the same when the crashed instance\'s own set of entries was lost too (both on the failed shard)', { timeout: 90_000 }, async () => {
    const a = await holderCrashesAndTableIsLost();
    // The reaper walks a dead node's set to find its entries: with the set gone it finds none, and
    // only admissions naming B dead drop them, so B stays named dead for a whole lease.
    await cluster.redis.del(new RedisKeys(cluster.keyPrefix).node('node-b'));

    const { client } = await admittedEventually(cluster, a, 'u1', 'after');
    expect(client.holding).toBe(true);
    expect(await cluster.converged(['u1'], LIMIT), cluster.output()).toEqual([]);
  });

  it('a live instance missing from the table is given a lease, not taken for dead: it keeps its sessions and the limit holds', { timeout: 90_000 }, async () => {
    cluster = new ChaosCluster(redis.url, env);
    const [a, b] = [await cluster.start('node-a'), await cluster.start('node-b')];
    const onB: SessionClient[] = [];
    for (const context of ['b0', 'b1']) {
      const { client, outcome } = await cluster.connect(b, 'u1', context);
      expect(outcome).toBe('session');
      onB.push(client);
    }
    // B cannot renew before A meets its entries (frozen for well under a lease).
    b.freeze();
    await loseLeaseTable(cluster);
    for (const context of ['a0', 'a1']) expect((await cluster.connect(a, 'u1', context)).outcome, `A admitting ${context}`).toBe('session');
    // At the limit: the refusal finds B holding entries without a lease and gives it one.
    expect((await cluster.connect(a, 'u1', 'a2')).outcome, 'one over the limit').toBe('refused');
    b.thaw();
    expect(a.recentOutput()).toContain('had no lease');

    // Past two leases: B took the lease it was given as its own and was never counted as dead.
    await sleep(2 * LEASE_MS + 500);
    expect((await cluster.connect(a, 'u1', 'a3')).outcome, 'still at the limit').toBe('refused');
    expect(await cluster.converged(['u1'], LIMIT), cluster.output()).toEqual([]);
    for (const client of onB) expect(client.holding, `B's ${client.context} stays`).toBe(true);
  });
});
