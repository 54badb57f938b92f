import type { Logger } from '@nestjs/common';
import { evalScript, type RedisClient } from './redis-connection.js';
import type { RedisKeys } from './redis-keys.js';
import { ADOPT_SCRIPT, FORGET_SCRIPT, RELEASE_SCRIPT, REMOVE_SCRIPT, TICK_SCRIPT } from './redis-scripts.js';

/** At most this many dead nodes are named to a per-user script (they are forgotten once reaped). */
const MAX_DEAD_VIEW = 1000;

/** A node's lease as the lease table holds it (`RedisManagerRegistry.leases()`). */
export interface NodeLease {
  /** The instance. */
  nodeId: string;
  /** Milliseconds until the lease expires; ≤ 0 for a dead node whose entries are not reaped yet. */
  remainingMs: number;
}

/** What {@link RedisLease} needs from its registry. */
export interface RedisLeaseHost {
  readonly keys: RedisKeys;
  readonly nodeId: string;
  readonly token: string;
  readonly ttlMs: number;
  readonly reapBatch: number;
  readonly logger: Logger;
  /** Runs a command on the ready client (outages become `RegistryUnavailableError`). */
  run<T>(fn: (client: RedisClient) => Promise<T>): Promise<T>;
  /** The lease lapsed (or the host asked to be told after the next good tick): re-register. */
  onLapse(): void;
  /** This node just took a lease it did not hold (start, or after a lapse): tell the others. */
  onTaken(): void;
}

/**
 * This node's lease and its view of which nodes are dead.
 *
 * Deadlines live in one sorted set (`RedisKeys.leases()`), so a tick is one script of
 * O(log nodes): renew our deadline, read the nodes whose deadline passed. Per-user scripts are
 * handed that dead list (a node not in it counts as alive: nothing live is ever dropped); they
 * never read another slot. A dead node's entries are reaped here, `reapBatch` per tick, through
 * the node's own set; once it is empty and the node has been dead a whole lease, it is forgotten
 * (unless it came back meanwhile). A node that has entries but is missing from the table (the
 * table lost its data) gets a lease from {@link adopt} when an instance meets its entries.
 *
 * Lapse detection: the tick finds our deadline passed, missing or another process's; or no tick
 * has succeeded for `ttlMs` (checked by {@link ensure} before each admission, so a process that
 * was frozen past its lease renews it, and re-registers, before it admits anything).
 */
export class RedisLease {
  private dead: ReadonlySet<string> = new Set();
  private deadArgv: string[] = ['0'];
  /** Local epoch ms until which the lease is known to be held (send time of the last good tick + ttl). */
  private validUntil = 0;
  private lastTickAt = 0;
  private failing = false;
  private reaping = false;
  /** The renewal admissions are waiting for: many admissions after a freeze share one tick. */
  private renewing: Promise<void> | undefined;
  /** Set when the connection (or a cluster shard) was lost: the next good tick re-registers. */
  resyncOnNextTick = false;

  constructor(private readonly host: RedisLeaseHost) {}

  /** ARGV head of every per-user script: the count of dead nodes, then their ids. */
  get deadNodesArgv(): readonly string[] {
    return this.deadArgv;
  }

  /** Whether this node's view counts `nodeId` as dead. */
  isDead(nodeId: string): boolean {
    return this.dead.has(nodeId);
  }

  /** Another node said it stopped: stop counting it now rather than at the next tick. */
  markDead(nodeId: string): void {
    if (nodeId === this.host.nodeId || this.dead.has(nodeId)) return;
    this.setDead([...this.dead, nodeId]);
  }

  /** Another node said it holds its lease again: count it now rather than at the next tick. */
  markAlive(nodeId: string): void {
    if (this.dead.has(nodeId)) this.setDead([...this.dead].filter((n) => n !== nodeId));
  }

  /** Renews the lease first when no tick succeeded within the lease (frozen process, outage). */
  async ensure(): Promise<void> {
    if (Date.now() < this.validUntil) return;
    this.renewing ??= this.tick().finally(() => (this.renewing = undefined));
    await this.renewing;
  }

  /**
   * Renews the lease, refreshes the dead view and starts reaping a batch of dead nodes' entries.
   * Throws when Redis cannot be reached (logged once per outage).
   */
  async tick(): Promise<void> {
    const { keys, nodeId, ttlMs, token } = this.host;
    const sentAt = Date.now();
    let reply: [number, string[]];
    try {
      reply = (await this.host.run((c) => evalScript(c, TICK_SCRIPT, [keys.leases(), keys.leaseTokens()], [nodeId, ttlMs, token, MAX_DEAD_VIEW]))) as [number, string[]];
      this.failing = false;
    } catch (error) {
      if (!this.failing) this.host.logger.warn(`could not refresh the registry lease of node ${nodeId}: ${String(error)}`);
      this.failing = true;
      throw error;
    }
    const [held, deadNodes] = reply;
    const now = Date.now();
    const lapsed = this.lastTickAt > 0 && (held !== 1 || now - this.lastTickAt >= ttlMs);
    this.lastTickAt = now;
    this.validUntil = sentAt + ttlMs;
    this.setDead(deadNodes);
    if (lapsed) this.host.logger.warn(`the registry lease of node ${nodeId} lapsed; re-registering the managers it holds`);
    if (held !== 1) this.host.onTaken();
    if (lapsed || this.resyncOnNextTick) {
      this.resyncOnNextTick = false;
      this.host.onLapse();
    }
    if (deadNodes.length > 0 && !this.reaping) {
      this.reaping = true;
      void this.reap(deadNodes)
        .catch(() => undefined)
        .finally(() => (this.reaping = false));
    }
  }

  /** Marks the lease expired (if still ours) so that this node's entries stop counting now. */
  async release(): Promise<void> {
    const { keys, nodeId, token } = this.host;
    this.validUntil = 0;
    await this.host.run((c) => evalScript(c, RELEASE_SCRIPT, [keys.leases(), keys.leaseTokens()], [nodeId, token]));
  }

  /**
   * Gives the nodes of `nodeIds` that the lease table does not know a lease of one TTL (see
   * `ADOPT_SCRIPT`): entries of a node missing from the table would otherwise count for good.
   * Resolves with the nodes added.
   */
  async adopt(nodeIds: readonly string[]): Promise<string[]> {
    const { keys, ttlMs } = this.host;
    const unknown = nodeIds.filter((n) => n !== this.host.nodeId);
    if (unknown.length === 0) return [];
    return (await this.host.run((c) => evalScript(c, ADOPT_SCRIPT, [keys.leases(), keys.leaseTokens()], [ttlMs, ...unknown]))) as string[];
  }

  /** Every node of the lease table with its remaining lease, by Redis' clock. */
  async table(): Promise<NodeLease[]> {
    return this.host.run(async (c) => {
      const [[seconds, micros], flat] = await Promise.all([c.time(), c.zrange(this.host.keys.leases(), 0, -1, 'WITHSCORES')]);
      const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      const out: NodeLease[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) out.push({ nodeId: flat[i]!, remainingMs: Number(flat[i + 1]) - now });
      return out;
    });
  }

  private setDead(nodes: readonly string[]): void {
    this.dead = new Set(nodes);
    this.deadArgv = [String(nodes.length), ...nodes];
  }

  /**
   * Removes at most `reapBatch` entries of dead nodes: read a batch of the node's set, remove
   * each entry still held by that node (one per-user script each), then drop the batch from the
   * set. Reading before removing means a crash midway leaves the pairs for the next reaper.
   */
  private async reap(deadNodes: readonly string[]): Promise<void> {
    const { keys } = this.host;
    let budget = this.host.reapBatch;
    for (const node of deadNodes) {
      if (budget <= 0) return;
      const members = await this.host.run((c) => c.srandmember(keys.node(node), budget));
      if (members.length === 0) {
        await this.host.run((c) => evalScript(c, FORGET_SCRIPT, [keys.leases(), keys.leaseTokens()], [node, this.host.ttlMs]));
        continue;
      }
      budget -= members.length;
      await Promise.all(
        members.map((member) => {
          const pair = parsePair(member);
          if (!pair) return undefined;
          return this.host.run((c) => evalScript(c, REMOVE_SCRIPT, [keys.userManagers(pair[0]), keys.userContexts(pair[0])], ['0', pair[1], node]));
        }),
      );
      await this.host.run((c) => c.srem(keys.node(node), ...members));
    }
  }
}

/** A node-set member: JSON `[userId, managerId]`, or `null` when malformed. */
export function parsePair(member: string): [string, string] | null {
  try {
    const pair = JSON.parse(member) as unknown;
    return Array.isArray(pair) && typeof pair[0] === 'string' && typeof pair[1] === 'string' ? [pair[0], pair[1]] : null;
  } catch {
    return null;
  }
}
