/*
 * Data layout (prefix P, default `wsm:`; names from RedisKeys, hash tags in braces):
 *   P{u:<userId>}:m      hash   managerId -> JSON ManagerRecord (names its nodeId)
 *   P{u:<userId>}:ctx    hash   context -> managerId (one manager per (user, context))
 *   P{n:<nodeId>}:m      set    JSON [userId, managerId]: a superset of the node's entries
 *   P{leases}:deadline   zset   nodeId -> lease deadline (epoch ms, Redis clock)
 *   P{leases}:token      hash   nodeId -> token of the process holding the lease
 *   P{n:<nodeId>}:ch     channel (sharded on a cluster): evictions and messages for that node
 *   P{leases}:presence   channel: `-<nodeId>` stopped gracefully, `+<nodeId>` took its lease
 *
 * Every script touches the keys of one slot only, all passed in KEYS, so the same code runs on
 * one Redis, behind Sentinel and on Redis Cluster. Per-user writes are one script on the user's
 * two hashes, so those never disagree; the node set is written around it (added before, removed
 * after), so it is always a superset and the reaper never misses an entry.
 *
 * An entry counts only while its node is alive. Liveness is decided without reading other slots:
 * each instance caches the nodes whose deadline passed (refreshed by its lease tick, one
 * O(log nodes) script) and hands that list to the per-user scripts; a node it does not name
 * counts as alive. A node killed without a word stops counting within leaseTtlMs plus one tick
 * of the others; a node that stops gracefully marks its deadline expired and says so on the
 * presence channel, so the others stop counting it at once; a node that takes a lease it did not
 * hold (start, lapse) says so too, so that nobody keeps dropping its new entries as dead. Dead entries are reaped lazily: admit
 * drops the user's dead entries before counting, and each tick reaps `reapBatch` more.
 */
import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { WS_MANAGER_DEFAULTS } from '../../config/ws-manager.defaults.js';
import { RegistryUnavailableError } from '../../errors/registry-unavailable.error.js';
import type { ManagerRecord, ManagerRecordPatch } from '../manager-record.js';
import type { AdmitResult, EvictionRequest, ManagerRegistry, RecordPage } from '../manager-registry.interface.js';
import { closeQuietly, createRedisClient, evalScript, isCluster, toRegistryError, waitUntilReady, type RedisClient } from './redis-connection.js';
import { RedisKeys } from './redis-keys.js';
import { parsePair, RedisLease } from './redis-lease.js';
import type { RedisManagerRegistryOptions } from './redis-manager-registry.options.js';
import { RedisNodeChannel } from './redis-node-channel.js';
import { callEach, parseChannelMessage, parseNullableRecord, parseRecord } from './redis-records.js';
import { ADMIT_SCRIPT, ALL_SCRIPTS, READ_SCRIPT, REMOVE_SCRIPT, UPDATE_SCRIPT } from './redis-scripts.js';
import { parseRedisUrl } from './redis-url.js';

/** How long start() waits for Redis before giving up (the app then fails to boot). */
const START_TIMEOUT_MS = 5000;

/** A node's lease as the lease table holds it ({@link RedisManagerRegistry.leases}). */
export interface NodeLease {
  /** The instance. */
  nodeId: string;
  /** Milliseconds until the lease expires; ≤ 0 for a dead node whose entries are not reaped yet. */
  remainingMs: number;
}

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
  private readonly evictionHandlers = new Set<(request: EvictionRequest) => void>();
  private readonly messageHandlers = new Set<(message: string) => void>();
  private readonly resyncHandlers = new Set<() => void>();
  private client?: RedisClient;
  private channel?: RedisNodeChannel;
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
      onTaken: () => void this.announce('+'),
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
    this.channel = new RedisNodeChannel(client, (channel, message) => this.dispatch(channel, message));
    try {
      await waitUntilReady(client, START_TIMEOUT_MS);
      await this.loadScripts(client);
      await this.lease.tick();
      await this.channel.start([keys.nodeChannel(nodeId), keys.presenceChannel()], START_TIMEOUT_MS);
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
    this.evictionHandlers.clear();
    this.messageHandlers.clear();
    this.resyncHandlers.clear();
    const { client, channel } = this;
    if (client?.status === 'ready' && this.lease) {
      await this.lease.release().catch(() => undefined);
      await this.announce('-');
    }
    await channel?.close();
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
    await this.publishTo(request.record.nodeId, JSON.stringify({ t: 'evict', r: request }));
  }

  /** Eviction requests published for this node; returns the unsubscribe. */
  onEvictionRequest(handler: (request: EvictionRequest) => void): () => void {
    this.evictionHandlers.add(handler);
    return () => this.evictionHandlers.delete(handler);
  }

  /** Publishes `message` on `nodeId`'s channel; resolves with how many subscribers got it. */
  sendToNode(nodeId: string, message: string): Promise<number> {
    return this.publishTo(nodeId, JSON.stringify({ t: 'msg', m: message }));
  }

  /** Messages sent to this node; returns the unsubscribe. */
  onNodeMessage(handler: (message: string) => void): () => void {
    this.messageHandlers.add(handler);
    return () => this.messageHandlers.delete(handler);
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
  async leases(): Promise<NodeLease[]> {
    return this.run(async (c) => {
      const [[seconds, micros], flat] = await Promise.all([c.time(), c.zrange(this.keys.leases(), 0, -1, 'WITHSCORES')]);
      const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      const out: NodeLease[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) out.push({ nodeId: flat[i]!, remainingMs: Number(flat[i + 1]) - now });
      return out;
    });
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

  private publishTo(nodeId: string, payload: string): Promise<number> {
    return this.run(() => {
      if (!this.channel) throw new RegistryUnavailableError(new Error('the registry is not started'));
      return this.channel.publish(this.keys.nodeChannel(nodeId), payload);
    });
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

  /** SCRIPT LOAD on every primary (EVALSHA falls back to EVAL anyway; this saves the first miss). */
  private async loadScripts(client: RedisClient): Promise<void> {
    const servers = isCluster(client) ? client.nodes('master') : [client];
    await Promise.all(servers.flatMap((server) => ALL_SCRIPTS.map((s) => server.script('LOAD', s.lua))));
  }

  private async afterReconnect(): Promise<void> {
    try {
      await this.loadScripts(this.client!);
      await this.lease!.tick();
    } catch {
      return; // lost again; the next 'ready' retries
    }
    this.lost = false;
    this.logger.log(`registry connection of node ${this.nodeId} is back`);
    // Redis may have restarted, or lost writes, without the lease showing it: re-register anyway.
    this.resync();
  }

  /** Tells the other nodes at once that this node stopped (`-`) or holds its lease again (`+`); best effort. */
  private async announce(change: '+' | '-'): Promise<void> {
    await this.channel?.publish(this.keys.presenceChannel(), change + this.nodeId).catch(() => undefined);
  }

  private resync(): void {
    if (this.closed) return;
    callEach(this.resyncHandlers, undefined, (error) => this.logger.error(`a registry resync handler failed: ${String(error)}`));
  }

  private dispatch(channel: string, raw: string): void {
    if (channel === this.keys.presenceChannel()) {
      const nodeId = raw.slice(1);
      if (raw.startsWith('-')) this.lease?.markDead(nodeId);
      else if (raw.startsWith('+')) this.lease?.markAlive(nodeId);
      return;
    }
    const message = parseChannelMessage(raw);
    if (message?.kind === 'message') {
      callEach(this.messageHandlers, message.message, (error) => this.logger.error(`a node message handler failed: ${String(error)}`));
      return;
    }
    const request = message?.request;
    if (request?.record.nodeId !== this.nodeId) return;
    callEach(this.evictionHandlers, request, (error) =>
      this.logger.error(`an eviction handler failed for manager ${request.record.managerId}: ${String(error)}`),
    );
  }
}
