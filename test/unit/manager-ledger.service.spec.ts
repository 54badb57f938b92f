import { afterEach, describe, expect, it } from 'vitest';
import {
  InMemoryManagerRegistry,
  ManagerLimitExceededError,
  RegistryEventsService,
  RegistryReplyError,
  RegistryUnavailableError,
  WebSocketManagerMetrics,
  WS_MANAGER_OPTIONS,
  type AdmitResult,
  type ResolvedWsManagerOptions,
  type ManagerRecord,
  type WsManagerOptions,
} from '../../src/index.js';
import { admitMany, closeOf, nextMessage, recordEvents } from '../support/fixtures.js';
import { SocketHarness, waitFor } from '../support/socket-harness.js';
import { createManagerTestBed, type ManagerTestBed } from '../support/testing-module.js';

/** An in-memory registry whose next `admit` never answers, or answers with a reply error. */
class FaultyRegistry extends InMemoryManagerRegistry {
  fault: 'hang' | 'reply-error' | null = null;

  override admit(record: ManagerRecord, limit: number): Promise<AdmitResult> {
    const fault = this.fault;
    this.fault = null;
    if (fault === 'hang') return new Promise(() => undefined);
    if (fault === 'reply-error') return Promise.reject(Object.assign(new Error('ERR user_script:1: Expected value but found invalid unicode escape'), { name: 'ReplyError' }));
    return super.admit(record, limit);
  }
}

/** An in-memory registry with a lease table, as the Redis registry has, that can lose a node's row. */
class LeasedRegistry extends InMemoryManagerRegistry {
  readonly table = new Map<string, number>();
  readonly adoptCalls: string[][] = [];

  constructor(private readonly ttlMs: number) {
    super();
  }

  async leases(): Promise<{ nodeId: string; remainingMs: number }[]> {
    return [...this.table].map(([nodeId, deadline]) => ({ nodeId, remainingMs: deadline - Date.now() }));
  }

  async adoptUnknownNodes(nodeIds: readonly string[]): Promise<string[]> {
    this.adoptCalls.push([...nodeIds]);
    const added = nodeIds.filter((n) => !this.table.has(n));
    for (const n of added) this.table.set(n, Date.now() + this.ttlMs);
    return added;
  }
}

const other = (userId: string, context: string): ManagerRecord => {
  const now = Date.now();
  return { managerId: `theirs-${context}`, userId, context, nodeId: 'other-node', createdAt: now, lastActivityAt: now, detachedAt: null };
};

describe('ManagerLedger', () => {
  let harness: SocketHarness;
  let bed: ManagerTestBed;

  async function setup(options: WsManagerOptions = {}): Promise<void> {
    harness = await SocketHarness.start();
    bed = await createManagerTestBed({ maxManagersPerUser: 20, probeTimeoutMs: 100, ...options });
  }

  afterEach(async () => {
    await bed.close();
    await harness.close();
  });

  /** Every manager of the user held here, with how many connections each holds. */
  const connectionsByManager = (userId: string) => bed.factory.listLocal(userId).map((m) => m.connections.size);

  describe('#move (join)', () => {
    it('25 joins sent back to back on one socket leave it on exactly one manager', async () => {
      await setup();
      const [pair] = await admitMany(bed, harness, 'u', 1);
      const connection = pair!.admission.connection;
      const results = await Promise.allSettled(Array.from({ length: 25 }, (_, i) => bed.factory.move(connection, `ctx-${i}`, false)));
      expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThan(0);
      expect(connectionsByManager('u').reduce((a, b) => a + b, 0)).toBe(1);
      expect(bed.factory.listLocal('u').filter((m) => m.connections.has(connection))).toHaveLength(1);
      expect(bed.factory.managerOfSocket(pair!.server)?.connections.has(connection)).toBe(true);
      const counted = await bed.registry.countByUser('u');
      expect(counted).toBe(bed.factory.listLocal('u').length);
      expect(counted).toBeLessThanOrEqual(20);
    });

    it('a join storm of 10 sockets keeps one connection per socket and the registry in agreement', async () => {
      await setup({ maxManagersPerUser: 8 });
      const pairs = await admitMany(bed, harness, 'u', 4);
      await Promise.allSettled(pairs.flatMap((p, i) => Array.from({ length: 10 }, (_, j) => bed.factory.move(p.admission.connection, `c-${(i * 7 + j) % 12}`, false))));
      expect(connectionsByManager('u').reduce((a, b) => a + b, 0)).toBe(4);
      for (const p of pairs) expect(bed.factory.listLocal('u').filter((m) => m.connections.has(p.admission.connection))).toHaveLength(1);
      expect(await bed.registry.countByUser('u')).toBe(bed.factory.listLocal('u').length);
      expect(bed.factory.listLocal('u').length).toBeLessThanOrEqual(8);
    });
  });

  describe('registry faults', () => {
    it('a hung registry call is an outage for that admission, and the user is not wedged', async () => {
      const registry = new FaultyRegistry();
      await setup({ registry, registryTimeoutMs: 200 });
      registry.fault = 'hang';
      const first = await harness.connect();
      await expect(bed.factory.acquire({ userId: 'u', context: 'a', socket: first.server })).rejects.toBeInstanceOf(RegistryUnavailableError);
      const second = await harness.connect();
      await expect(bed.factory.acquire({ userId: 'u', context: 'b', socket: second.server })).resolves.toMatchObject({ resumed: false });
      expect(await registry.countByUser('u')).toBe(1);
    });

    it('a reply error is a RegistryReplyError, not an outage, and is reported as registry_error', async () => {
      const registry = new FaultyRegistry();
      await setup({ registry });
      const recorder = recordEvents(bed);
      registry.fault = 'reply-error';
      const pair = await harness.connect();
      const error = await bed.factory.acquire({ userId: 'u', context: 'a', socket: pair.server }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RegistryReplyError);
      expect(recorder.events.filter((e) => e.type === 'registry_error')).toMatchObject([{ operation: 'admit', message: expect.stringContaining('invalid unicode') }]);
      expect(await bed.module.get(WebSocketManagerMetrics).metrics()).toContain('ws_manager_registry_errors_total{operation="admit"} 1');
      expect(bed.factory.listLocal('u')).toHaveLength(0);
      recorder.stop();
    });
  });

  describe('a refusal while another instance holds the user\'s slots', () => {
    const TTL = 9000;

    it('gives that instance a lease when the lease table does not know it (its data lost), and says when it runs out', async () => {
      const registry = new LeasedRegistry(TTL);
      await setup({ registry, maxManagersPerUser: 2, leaseTtlMs: TTL, nodeId: 'here' });
      registry.table.set('here', Date.now() + TTL);
      for (const context of ['x', 'y']) registry.admitNow(other('u', context), 2);
      const pair = await harness.connect();
      const before = Date.now();
      const error = (await bed.factory.acquire({ userId: 'u', context: 'z', socket: pair.server }).catch((e: unknown) => e)) as ManagerLimitExceededError;
      expect(error).toBeInstanceOf(ManagerLimitExceededError);
      expect(registry.adoptCalls).toEqual([['other-node']]);
      expect(registry.table.has('other-node')).toBe(true);
      // Its entries stop counting when that lease runs out, seen at this instance's next tick.
      expect(error.retryReason).toBe('lease_expiry');
      expect(error.retryAfterMs).toBeGreaterThanOrEqual(TTL);
      expect(error.retryAfterMs).toBeLessThanOrEqual(TTL + TTL / 3 + (Date.now() - before) + 1);
    });

    it('leaves an instance the table knows alone', async () => {
      const registry = new LeasedRegistry(TTL);
      await setup({ registry, maxManagersPerUser: 2, leaseTtlMs: TTL, nodeId: 'here' });
      registry.table.set('here', Date.now() + TTL);
      registry.table.set('other-node', Date.now() + TTL);
      for (const context of ['x', 'y']) registry.admitNow(other('u', context), 2);
      const pair = await harness.connect();
      const error = (await bed.factory.acquire({ userId: 'u', context: 'z', socket: pair.server }).catch((e: unknown) => e)) as ManagerLimitExceededError;
      expect(error).toBeInstanceOf(ManagerLimitExceededError);
      expect(registry.adoptCalls).toEqual([]);
      expect(error.retryReason).toBe('sessions_in_use');
    });
  });

  describe('resume', () => {
    it('counts a manager again when the registry lost its entry, instead of serving it uncounted', async () => {
      await setup();
      const [pair] = await admitMany(bed, harness, 'u', 1);
      const { manager } = pair!.admission;
      await bed.registry.remove('u', manager.id);
      const again = await harness.connect();
      const admission = await bed.factory.acquire({ userId: 'u', context: manager.context, socket: again.server });
      expect(admission).toMatchObject({ resumed: true, active: 1 });
      expect(admission.manager).toBe(manager);
      expect(await bed.registry.get('u', manager.id)).toMatchObject({ managerId: manager.id });
    });

    it('closes the local manager with 4002 when another instance took its context, and admits the newcomer', async () => {
      await setup();
      const [pair] = await admitMany(bed, harness, 'u', 1);
      const { manager } = pair!.admission;
      await bed.registry.remove('u', manager.id);
      await bed.registry.admit(other('u', manager.context), 20);
      const closed = closeOf(pair!);
      const again = await harness.connect();
      const admission = await bed.factory.acquire({ userId: 'u', context: manager.context, socket: again.server });
      expect(await closed).toEqual({ code: 4002, reason: 'SUPERSEDED' });
      expect(admission.resumed).toBe(false);
      expect(admission.manager).not.toBe(manager);
      expect(await bed.registry.findByContext('u', manager.context)).toMatchObject({ managerId: admission.manager.id });
      expect(await bed.registry.countByUser('u')).toBe(1);
    });
    it("takes back this instance's own entry after a restart (same node id): same manager, resumed", async () => {
      await setup();
      const { nodeId } = bed.module.get<ResolvedWsManagerOptions>(WS_MANAGER_OPTIONS);
      const now = Date.now();
      const kept = { managerId: 'before-restart', userId: 'u', context: 'tab', nodeId, createdAt: now - 60_000, lastActivityAt: now - 5_000, detachedAt: now - 2_000 };
      await bed.registry.admit(kept, 20);
      const pair = await harness.connect();
      const admission = await bed.factory.acquire({ userId: 'u', context: 'tab', socket: pair.server });
      expect(admission).toMatchObject({ resumed: true, active: 1 });
      expect(admission.manager.id).toBe('before-restart');
      expect(await bed.registry.get('u', 'before-restart')).toMatchObject({ detachedAt: null });
    });

    it('removes its own entry past the resume window instead of taking it back', async () => {
      await setup({ resumeWindowMs: 1_000 });
      const { nodeId } = bed.module.get<ResolvedWsManagerOptions>(WS_MANAGER_OPTIONS);
      const now = Date.now();
      await bed.registry.admit({ managerId: 'stale', userId: 'u', context: 'tab', nodeId, createdAt: now - 60_000, lastActivityAt: now - 60_000, detachedAt: now - 30_000 }, 20);
      const pair = await harness.connect();
      const admission = await bed.factory.acquire({ userId: 'u', context: 'tab', socket: pair.server });
      expect(admission.resumed).toBe(false);
      expect(admission.manager.id).not.toBe('stale');
      expect(await bed.registry.get('u', 'stale')).toBeNull();
    });
  });

  describe('reconciliation', () => {
    it('the sweep counts again a manager the registry lost, and closes one whose context was taken', async () => {
      await setup();
      const [lost, taken, fine] = await admitMany(bed, harness, 'u', 3);
      await bed.registry.remove('u', lost!.admission.manager.id);
      await bed.registry.remove('u', taken!.admission.manager.id);
      await bed.registry.admit(other('u', taken!.admission.manager.context), 20);
      const closed = closeOf(taken!);
      // The sweep settles managers created before it started: not in its own millisecond, which
      // the synchronous admission path can share with it.
      await waitFor(() => Date.now() > fine!.admission.manager.createdAt, 1000, 'the clock to move past the admissions');
      await bed.sweep.sweep();
      expect(await closed).toEqual({ code: 4002, reason: 'SUPERSEDED' });
      expect(await bed.registry.get('u', lost!.admission.manager.id)).not.toBeNull();
      expect(bed.factory.listLocal('u').map((m) => m.id).sort()).toEqual([lost!.admission.manager.id, fine!.admission.manager.id].sort());
      expect(await bed.registry.countByUser('u')).toBe(3);
    });

    it('re-registration keeps what fits, most recently active first, and evicts the rest with lease_lost', async () => {
      await setup({ maxManagersPerUser: 3 });
      const pairs = await admitMany(bed, harness, 'u', 3);
      pairs.forEach((p, i) => p.admission.manager.markActivity(Date.now() - (3 - i) * 1000)); // pairs[0] is the stalest
      for (const p of pairs) await bed.registry.remove('u', p.admission.manager.id);
      await bed.registry.admit(other('u', 'elsewhere'), 3);
      const notice = nextMessage(pairs[0]!);
      const closed = closeOf(pairs[0]!);
      expect(await bed.module.get(RegistryEventsService).reRegister()).toEqual({ kept: 2, evicted: 1 });
      expect(await notice).toEqual({ event: 'evicted', data: { level: 'reconcile', reason: 'lease_lost' } });
      expect((await closed).code).toBe(4001);
      expect(await bed.registry.countByUser('u')).toBe(3);
    });
  });
});
