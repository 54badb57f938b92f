import type { Cluster, Redis } from 'ioredis';
import { isCluster } from '../../src/registry/redis/redis-connection.js';
import { RedisKeys } from '../../src/registry/redis/redis-keys.js';
import type { InstanceProcess, InventoryEntry } from './instance-process.js';
import type { SessionClient } from './session-client.js';

/** A registry entry as stored in Redis (`P{u:<userId>}:m` hash values). */
export interface StoredRecord {
  managerId: string;
  userId: string;
  context: string;
  nodeId: string;
  detachedAt: number | null;
}

/** What Redis counts: per user, the entries whose node's lease key exists. */
export type CountedRecords = Map<string, StoredRecord[]>;

/** A client that reads the registry: one Redis, or a Redis Cluster (single-key commands go to their slot). */
export type RegistryReader = Redis | Cluster;

/** What the invariant check looks at. */
export interface InvariantScope {
  redis: RegistryReader;
  keyPrefix: string;
  users: readonly string[];
  limit: number;
  /** Every instance started; frozen or dead ones are not asked (their leases decide). */
  instances: readonly InstanceProcess[];
  clients: Iterable<SessionClient>;
}

/**
 * Every key under `keyPrefix` (SCAN, never KEYS). On a Redis Cluster each primary holds only its
 * slots' keys, so every primary is scanned (a replica would repeat its primary's keys).
 */
export async function keysUnder(redis: RegistryReader, keyPrefix: string): Promise<string[]> {
  if (!isCluster(redis)) return scanNode(redis, keyPrefix);
  // The node list fills in once the client has the topology: any routed command waits for that.
  await redis.ping();
  const pages = await Promise.all(redis.nodes('master').map((node) => scanNode(node, keyPrefix)));
  return [...new Set(pages.flat())];
}

async function scanNode(redis: Redis, keyPrefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, page] = await redis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000);
    keys.push(...page);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Reads the registry straight from Redis, with the key names of `RedisKeys`: the user hashes
 * `P{u:<userId>}:m`, and the lease table `P{leases}:deadline` (node → deadline, ms). An entry
 * counts only while its node's deadline is ahead of Redis' clock. On a cluster each key command
 * goes to the primary of its slot; TIME goes to any node (the local cluster shares one clock,
 * the machine's, with the lease table's primary).
 */
export async function countedRecords(redis: RegistryReader, keyPrefix: string): Promise<CountedRecords> {
  const names = new RedisKeys(keyPrefix);
  const keys = await keysUnder(redis, keyPrefix);
  const [[seconds, micros], table] = await Promise.all([redis.time(), redis.zrange(names.leases(), 0, -1, 'WITHSCORES')]);
  const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  const leases = new Set<string>();
  for (let i = 0; i + 1 < table.length; i += 2) if (Number(table[i + 1]) > now) leases.add(table[i]!);
  const userHash = new RegExp(`^${escape(names.userManagers('\u0000')).replace('\u0000', '.+')}$`);
  const counted: CountedRecords = new Map();
  for (const key of keys) {
    if (!userHash.test(key)) continue;
    const values = Object.values(await redis.hgetall(key)).map((json) => JSON.parse(json) as StoredRecord);
    for (const record of values) {
      if (!leases.has(record.nodeId)) continue;
      const list = counted.get(record.userId) ?? [];
      list.push(record);
      counted.set(record.userId, list);
    }
  }
  return counted;
}

const live = (e: InventoryEntry) => e.health !== 'zombie';

/**
 * Checks I1 (limit, one holder per context) and I3 (agreement between sockets, instances and
 * the registry) on a settled cluster; returns the violations, empty when both hold.
 * - client view: open sockets with a session, and the manager/context/instance each was told;
 * - instance view: each running instance's own managers (admin API), with open connection counts;
 * - registry view: Redis, counting only entries of nodes with a lease.
 * Also checks that a socket is in exactly one manager: per instance, the open connections its
 * managers report equal the test's open sockets there.
 */
export async function checkInvariants(scope: InvariantScope): Promise<string[]> {
  const violations: string[] = [];
  const counted = await countedRecords(scope.redis, scope.keyPrefix);
  const running = scope.instances.filter((i) => i.alive);
  const clients = [...scope.clients];
  for (const userId of scope.users) {
    const holding = clients.filter((c) => c.userId === userId && c.holding);
    const records = counted.get(userId) ?? [];
    const local = new Map<string, InventoryEntry[]>();
    for (const instance of running) local.set(instance.nodeId, (await instance.localManagers(userId)).filter(live));
    const all = [...local.values()].flat();
    const u = JSON.stringify(userId);

    // I1: the limit over every instance, from the instances' and the clients' side.
    if (all.length > scope.limit) violations.push(`I1 ${u}: ${all.length} live managers on the instances for a limit of ${scope.limit}`);
    const clientManagers = new Set(holding.map((c) => c.managerId));
    if (clientManagers.size > scope.limit) violations.push(`I1 ${u}: clients hold ${clientManagers.size} managers for a limit of ${scope.limit}`);
    // I1: one holder per context.
    const holders = new Map<string, Set<string>>();
    for (const e of all) holders.set(e.context, (holders.get(e.context) ?? new Set()).add(`${e.nodeId}/${e.managerId}`));
    for (const c of holding) holders.set(c.context!, (holders.get(c.context!) ?? new Set()).add(`${c.nodeId}/${c.managerId}`));
    for (const [context, set] of holders) if (set.size > 1) violations.push(`I1 ${u}: context ${context} held by ${[...set].join(', ')}`);

    // I3: every live socket's manager is counted, on the instance the socket is on.
    for (const c of holding) {
      const record = records.find((r) => r.managerId === c.managerId);
      if (!record) violations.push(`I3 ${u}: socket on ${c.nodeId} is on manager ${c.managerId} (${c.context}), which the registry does not count`);
      else if (record.nodeId !== c.nodeId) violations.push(`I3 ${u}: socket on ${c.nodeId} is on manager ${c.managerId}, counted for ${record.nodeId}`);
      const entry = local.get(c.nodeId)?.find((e) => e.managerId === c.managerId);
      if (local.has(c.nodeId) && !(entry && (entry.connections ?? 0) > 0)) {
        violations.push(`I3 ${u}: socket on ${c.nodeId} is on manager ${c.managerId}, which that instance does not list with an open connection`);
      }
    }
    // I3: every counted manager has a live socket or is detached within its resume window.
    for (const r of records) {
      const entry = local.get(r.nodeId)?.find((e) => e.managerId === r.managerId);
      const socket = holding.some((c) => c.managerId === r.managerId);
      if (!running.some((i) => i.nodeId === r.nodeId)) violations.push(`I3 ${u}: registry counts ${r.managerId} for ${r.nodeId}, which is not running`);
      else if (!entry) violations.push(`I3 ${u}: registry counts ${r.managerId} (${r.context}) for ${r.nodeId}, which holds no such live manager`);
      else if (!socket && entry.state !== 'detached') violations.push(`I3 ${u}: counted manager ${r.managerId} has no client socket but is ${entry.state}`);
    }
    // I3: every manager an instance holds is counted (none is served uncounted).
    for (const e of all) {
      if (!records.some((r) => r.managerId === e.managerId && r.nodeId === e.nodeId)) {
        violations.push(`I3 ${u}: ${e.nodeId} holds ${e.managerId} (${e.context}, ${e.state}), which the registry does not count`);
      }
    }
    // A socket is in exactly one manager.
    for (const [nodeId, entries] of local) {
      const reported = entries.reduce((n, e) => n + (e.connections ?? 0), 0);
      const sockets = clients.filter((c) => c.userId === userId && c.nodeId === nodeId && c.holding).length;
      if (reported !== sockets) violations.push(`I3 ${u}: ${nodeId}'s managers report ${reported} open connections for ${sockets} open sockets`);
    }
  }
  return violations;
}

/**
 * Polls {@link checkInvariants} until it finds nothing or `timeoutMs` passes; returns the last
 * violations (empty: converged). A check that throws (an instance not answering yet) counts as
 * not converged.
 */
export async function converge(scope: InvariantScope, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let last: string[] = [];
  for (;;) {
    try {
      last = await checkInvariants(scope);
    } catch (error) {
      last = [`check failed: ${String(error)}`];
    }
    if (last.length === 0 || Date.now() > deadline) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
}
