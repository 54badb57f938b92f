/*
 * Layout: see RedisKeys (and the README's cluster section). Every script touches the keys of one
 * slot only, all passed in KEYS, so the same code runs on one Redis, behind Sentinel and on Redis
 * Cluster. Per-user writes are one script on the user's two hashes, so those never disagree; the
 * node set is written around it (added before, removed after), so it is always a superset and
 * the reaper never misses an entry.
 *
 * An entry counts only while its node is alive, decided without reading other slots: each
 * instance caches the nodes whose lease deadline passed (RedisLease, refreshed by its tick) and
 * hands that list to the per-user scripts; a node not named counts as alive. Nodes announce
 * graceful stops and new leases on the presence channel, so the others need not wait for a tick.
 * Dead entries are reaped lazily: admit drops the user's dead entries, each tick reaps a batch.
 */
import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { WS_MANAGER_DEFAULTS } from '../../config/ws-manager.defaults.js';
import { RegistryUnavailableError } from '../../errors/registry-unavailable.error.js';
import type { ManagerRecord, ManagerRecordPatch } from '../manager-record.js';
import type { AdmitResult, EvictionRequest, ManagerRegistry, RecordPage } from '../manager-registry.interface.js';
import { closeQuietly, createRedisClient, evalScript, isCluster, loadScripts, toRegistryError, waitUntilReady, type RedisClient } from './redis-connection.js';
import { RedisKeys } from './redis-keys.js';
import { parsePair, RedisLease, type NodeLease } from './redis-lease.js';
import type { RedisManagerRegistryOptions } from './redis-manager-registry.options.js';
import { RedisNodeChannel } from './redis-node-channel.js';
import { callEach, parseNullableRecord, parseRecord } from './redis-records.js';
import { ADMIT_SCRIPT, ALL_SCRIPTS, READ_SCRIPT, REMOVE_SCRIPT, UPDATE_SCRIPT } from './redis-scripts.js';
import { parseRedisUrl } from './redis-url.js';

/** How long start() waits for Redis before giving up (the app then fails to boot). */
const START_TIMEOUT_MS = 5000;

/**
 * Registry on Redis: one server, a primary behind Sentinel, or a Redis Cluster (ioredis, loaded
 * on start so that it stays an optional dependency). The per-user limit holds across every
 * node, under concurrent admissions; a dead node's managers stop counting after `leaseTtlMs`.
 * While Redis is unreachable every method rejects within about `commandTimeoutMs` with
 * {@link RegistryUnavailableError} and `ping()` answers `false`; {@link onResync} tells the node
 * to re-register its entries afterwards.
 */
export class RedisManagerRegistry implements ManagerRegistry {
  readonly kind = 'redis';
  /** Key and channel names (public so that tools read the same layout). */
  readonly keys: RedisKeys;
  private readonly logger = new Logger('WebSocketManager');
  private readonly leaseTtlMs: number;
  private readonly commandTimeoutMs: number;
  private readonly reapBatch: number;
  private readonly resyncHandlers = new Set<() => void>();
  private client?: RedisClient;
  private readonly channel: RedisNodeChannel;
  private lease?: RedisLease;
  private nodeId = '';
  private timer?: NodeJS.Timeout;
  private everReady = false;
  private lost = false;
  private closed = false;

  constructor(private readonly options: RedisManagerRegistryOptions = {}) {
    this.keys = new RedisKeys(options.keyPrefix ?? WS_MANAGER_DEFAULTS.redisKeyPrefix);
    this.leaseTtlMs = options.leaseTtlMs ?? WS_MANAGER_DEFAULTS.leaseTtlMs;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 1000;
    this.reapBatch = options.reapBatch ?? 100;
    // Made now so that handlers can subscribe before start(); it uses the client from start() on.
    this.channel = new RedisNodeChannel({
      client: () => {
        if (!this.client) throw new RegistryUnavailableError(new Error('the registry is not started'));
        return this.client;
      },
      keys: this.keys,
      nodeId: () => this.nodeId,
      logger: this.logger,
      onPresence: (nodeId, alive) => (alive ? this.lease?.markAlive(nodeId) : this.lease?.markDead(nodeId)),
    });
  }

  /** Connects, writes this node's lease, starts its refresh and subscribes to this node's channel. */
  async start(nodeId: string): Promise<void> {
    this.nodeId = nodeId;
    const client = this.options.client ?? createRedisClient(await import('ioredis'), parseRedisUrl(this.options.url ?? WS_MANAGER_DEFAULTS.redisUrl), this.commandTimeoutMs);
    this.client = client;
    const { keys } = this;
    this.lease = new RedisLease({
      keys,
      nodeId,
      token: randomUUID(),
      ttlMs: this.leaseTtlMs,
      reapBatch: this.reapBatch,
      logger: this.logger,
      run: (fn) => this.run(fn),
      onLapse: () => this.resync(),
      onTaken: () => void this.channel.announce(true),
    });
    // Without an 'error' listener ioredis prints every failed reconnect; outages are reported
    // through the rejections and ping() instead.
    client.on('error', () => undefined);
    // A reconnect is a 'ready' after a 'close' that followed an earlier 'ready'; failed attempts
    // while starting do not count.
    client.on('close', () => {
      if (this.everReady && !this.closed) this.lost = true;
    });
    client.on('ready', () => {
      if (this.lost && !this.closed) void this.afterReconnect();
      this.everReady = true;
    });
    // A shard dropped out of a cluster (a failover): writes may have been lost with it.
    if (isCluster(client)) {
      client.on('-node', () => {
        if (this.lease && !this.closed) this.lease.resyncOnNextTick = true;
      });
    }
    try {
      await waitUntilReady(client, START_TIMEOUT_MS);
      await loadScripts(client, ALL_SCRIPTS);
      await this.lease.tick();
      await this.channel.start(START_TIMEOUT_MS);
    } catch (error) {
      await this.close();
      throw toRegistryError(error);
    }
    this.timer = setInterval(() => void this.lease?.tick().catch(() => undefined), Math.max(1, Math.floor(this.leaseTtlMs / 3)));
    this.timer.unref();
  }

  /**
   * Stops the lease refresh and closes the connections. This node's entries stay, but stop
   * counting at once: the lease is marked expired and the other nodes are told.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.resyncHandlers.clear();
    const { client } = this;
    if (client?.status === 'ready' && this.lease) {
      await this.lease.release().catch(() => undefined);
      await this.channel.announce(false);
    }
    if (client) await this.channel.close();
    if (client && !this.options.client) await closeQuietly(client);
  }

  /** `true` when Redis answers; never throws. */
  async ping(): Promise<boolean> {
    const client = this.client;
    if (!client || client.status !== 'ready') return false;
    try {
      return (await client.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  /** One atomic script on the user's slot: drops the user's dead entries, then confirms, admits or refuses. */
  async admit(record: ManagerRecord, limit: number): Promise<AdmitResult> {
    // A lease not renewed within its TTL may have lapsed: renew it (which starts re-registration) first.
    await this.lease?.ensure();
    const pair = JSON.stringify([record.userId, record.managerId]);
    const nodeSet = this.keys.node(record.nodeId);
    const script = (c: RedisClient) =>
      evalScript(c, ADMIT_SCRIPT, this.userKeys(record.userId), [...this.deadArgv(), record.managerId, record.context, JSON.stringify(record), limit]);
    // The pair goes into the node set before the entry exists, so that the set stays a superset.
    // One connection runs commands in order, so both can be sent at once; a cluster routes them
    // to different shards, so there the second waits for the first.
    const reply = (await this.run(async (c) => {
      if (isCluster(c)) {
        await c.sadd(nodeSet, pair);
        return script(c);
      }
      return (await Promise.all([c.sadd(nodeSet, pair), script(c)]))[1];
    })) as [number, number, string?];
    const [admitted, active, existing] = reply;
    const result: AdmitResult = { admitted: admitted === 1, active };
    if (existing !== undefined) result.existing = parseRecord(existing);
    if (!result.admitted && result.existing?.managerId !== record.managerId) {
      await this.run((c) => c.srem(nodeSet, pair)).catch(() => undefined); // a leftover pair is harmless
    }
    return result;
  }

  /** One record of a live node, or `null`. */
  async get(userId: string, managerId: string): Promise<ManagerRecord | null> {
    return parseNullableRecord(await this.read(userId, 'get', managerId));
  }

  /** The user's live record for a context, or `null`. */
  async findByContext(userId: string, context: string): Promise<ManagerRecord | null> {
    return parseNullableRecord(await this.read(userId, 'ctx', context));
  }

  /** The user's records on live nodes. */
  async listByUser(userId: string): Promise<ManagerRecord[]> {
    return ((await this.read(userId, 'list')) as string[]).map(parseRecord);
  }

  /** The user's managers on live nodes. */
  async countByUser(userId: string): Promise<number> {
    return (await this.read(userId, 'count')) as number;
  }

  /** Patches owner-reported fields in place; a missing record is ignored. */
  async update(userId: string, managerId: string, patch: ManagerRecordPatch): Promise<void> {
    const lastActivityAt = patch.lastActivityAt === undefined ? '' : String(patch.lastActivityAt);
    const detachedAt = patch.detachedAt === undefined ? '' : patch.detachedAt === null ? 'null' : String(patch.detachedAt);
    await this.run((c) => evalScript(c, UPDATE_SCRIPT, [this.keys.userManagers(userId)], [managerId, lastActivityAt, detachedAt]));
  }

  /** Removes an entry (then its node-set pair); `true` only for the call that removed it. */
  async remove(userId: string, managerId: string): Promise<boolean> {
    const owner = (await this.run((c) => evalScript(c, REMOVE_SCRIPT, this.userKeys(userId), ['0', managerId, '']))) as string | null;
    if (typeof owner !== 'string') return false;
    // After the entry: a pair left behind by a failure here is harmless (the set is a superset).
    await this.run((c) => c.srem(this.keys.node(owner), JSON.stringify([userId, managerId]))).catch(() => undefined);
    return true;
  }

  /**
   * SSCAN over the node's set. As with any SSCAN, `count` is a hint (small sets come back in one
   * page) and an entry may show up twice across pages while the set grows; callers reconcile
   * idempotently. Entries are returned whether or not the node is alive.
   */
  async scanNode(nodeId: string, cursor: string | undefined, count: number): Promise<RecordPage> {
    return this.run(async (c) => {
      const [next, members] = await c.sscan(this.keys.node(nodeId), cursor ?? '0', 'COUNT', count);
      const pairs = [...new Set(members)].map(parsePair).filter((p) => p !== null);
      // One HGET per pair, sent together (on a cluster they go to different shards).
      const replies = await Promise.all(pairs.map(([userId, managerId]) => c.hget(this.keys.userManagers(userId), managerId)));
      const records: ManagerRecord[] = [];
      for (const json of replies) {
        const record = typeof json === 'string' ? parseRecord(json) : null;
        if (record?.nodeId === nodeId) records.push(record);
      }
      return next === '0' ? { records } : { records, cursor: next };
    });
  }

  /** Publishes the request on the owner's channel; the caller still removes the entry itself. */
  async requestEviction(request: EvictionRequest): Promise<void> {
    await this.run(() => this.channel.requestEviction(request));
  }

  /** Eviction requests published for this node; returns the unsubscribe. */
  onEvictionRequest(handler: (request: EvictionRequest) => void): () => void {
    return this.channel.onEvictionRequest(handler);
  }

  /** Publishes `message` on `nodeId`'s channel; resolves with how many subscribers got it. */
  sendToNode(nodeId: string, message: string): Promise<number> {
    return this.run(() => this.channel.sendToNode(nodeId, message));
  }

  /** Messages sent to this node; returns the unsubscribe. */
  onNodeMessage(handler: (message: string) => void): () => void {
    return this.channel.onNodeMessage(handler);
  }

  /**
   * Calls `handler` whenever this node's entries may have stopped counting and the node counts
   * again: after the connection came back from an outage (or a cluster shard failed over), and
   * when a lease tick (or an admission) finds the lease lapsed (the node or Redis was frozen past
   * `leaseTtlMs`, Redis restarted empty, or ticks failed for longer than the lease). Returns the
   * unsubscribe.
   */
  onResync(handler: () => void): () => void {
    this.resyncHandlers.add(handler);
    return () => this.resyncHandlers.delete(handler);
  }

  /** The lease table: every node with a lease or with entries not reaped yet, by Redis' clock. */
  leases(): Promise<NodeLease[]> {
    return this.lease ? this.lease.table() : Promise.resolve([]);
  }

  /** Gives the named nodes the lease table does not know a lease of one TTL (see `RedisLease.adopt`). */
  adoptUnknownNodes(nodeIds: readonly string[]): Promise<string[]> {
    return this.lease ? this.lease.adopt(nodeIds) : Promise.resolve([]);
  }

  private userKeys(userId: string): string[] {
    return [this.keys.userManagers(userId), this.keys.userContexts(userId)];
  }

  private deadArgv(): readonly string[] {
    return this.lease?.deadNodesArgv ?? ['0'];
  }

  private read(userId: string, mode: 'get' | 'ctx' | 'list' | 'count', arg = ''): Promise<unknown> {
    return this.run((c) => evalScript(c, READ_SCRIPT, this.userKeys(userId), [...this.deadArgv(), mode, arg]));
  }

  /** Runs `fn` on the ready client; anything that smells of an outage becomes RegistryUnavailableError. */
  private async run<T>(fn: (client: RedisClient) => Promise<T>): Promise<T> {
    const client = this.client;
    if (!client || client.status !== 'ready') {
      throw new RegistryUnavailableError(new Error(`redis connection is ${client?.status ?? 'not started'}`));
    }
    try {
      return await fn(client);
    } catch (error) {
      throw toRegistryError(error);
    }
  }

  private async afterReconnect(): Promise<void> {
    try {
      await loadScripts(this.client!, ALL_SCRIPTS);
      await this.lease!.tick();
    } catch {
      return; // lost again; the next 'ready' retries
    }
    this.lost = false;
    this.logger.log(`registry connection of node ${this.nodeId} is back`);
    // Redis may have restarted, or lost writes, without the lease showing it: re-register anyway.
    this.resync();
  }

  private resync(): void {
    if (this.closed) return;
    callEach(this.resyncHandlers, undefined, (error) => this.logger.error(`a registry resync handler failed: ${String(error)}`));
  }

}
