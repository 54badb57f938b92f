/*
 * Data layout (every key starts with the configured prefix P, default `wsm:`):
 *   P user:<userId>:m     hash   managerId -> JSON ManagerRecord (names its nodeId)
 *   P user:<userId>:ctx   hash   context -> managerId (one manager per (user, context))
 *   P node:<nodeId>:m     set    JSON [userId, managerId] of every entry the node holds
 *   P lease:<nodeId>      string present while the node lives: SET PX leaseTtlMs every ttl/3
 *   P nodes               set    node ids that have held entries (walked by the reaper)
 *   P evict:<nodeId>      pub/sub channel of eviction requests for that node
 *
 * Every write is one Lua script, so the three indexes never disagree. An entry counts only
 * while its node's lease exists: a node killed without a word stops counting within
 * leaseTtlMs, with no cleanup by anyone. Its entries are then reaped lazily: admit drops the
 * user's dead entries before counting, and each live node's lease tick (one EVALSHA: refresh
 * the lease, then SPOP at most `reapBatch` members of dead nodes' sets) removes the rest.
 * Per-user operations touch only that user's two hashes plus the lease keys of its nodes.
 */
import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { WS_MANAGER_DEFAULTS } from '../../config/ws-manager.defaults.js';
import { RegistryUnavailableError } from '../../errors/registry-unavailable.error.js';
import type { ManagerRecord, ManagerRecordPatch } from '../manager-record.js';
import type { AdmitResult, EvictionRequest, ManagerRegistry, RecordPage } from '../manager-registry.interface.js';
import { closeQuietly, evalScript, outageAwareOptions, toRegistryError, waitUntilReady } from './redis-connection.js';
import { RedisKeys } from './redis-keys.js';
import type { RedisManagerRegistryOptions } from './redis-manager-registry.options.js';
import { callEach, parseEvictionRequest, parseNullableRecord, parseRecord } from './redis-records.js';
import { ADMIT_SCRIPT, ALL_SCRIPTS, READ_SCRIPT, REMOVE_SCRIPT, TICK_SCRIPT, UPDATE_SCRIPT } from './redis-scripts.js';

/** How long start() waits for Redis before giving up (the app then fails to boot). */
const START_TIMEOUT_MS = 5000;

/** Deletes the lease only if it is still this node's. */
const RELEASE_LEASE_SCRIPT = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/**
 * Cluster registry on Redis (ioredis, loaded on start so that it stays an optional dependency).
 * The per-user limit holds across every node sharing the Redis, under concurrent admissions;
 * a dead node's managers stop counting after `leaseTtlMs`. While Redis is unreachable every
 * method rejects within about `commandTimeoutMs` with {@link RegistryUnavailableError} and
 * `ping()` answers `false`; {@link onResync} tells the node to re-register its
 * entries afterwards.
 */
export class RedisManagerRegistry implements ManagerRegistry {
  readonly kind = 'redis';
  private readonly logger = new Logger('WebSocketManager');
  private readonly keys: RedisKeys;
  private readonly leaseTtlMs: number;
  private readonly commandTimeoutMs: number;
  private readonly reapBatch: number;
  private readonly leaseToken = randomUUID();
  private readonly evictionHandlers = new Set<(request: EvictionRequest) => void>();
  private readonly resyncHandlers = new Set<() => void>();
  private client?: Redis;
  private subscriber?: Redis;
  private nodeId = '';
  private timer?: NodeJS.Timeout;
  private everReady = false;
  private lost = false;
  private tickFailing = false;
  /** Epoch ms of the last tick that reached Redis; 0 before start. */
  private lastTickAt = 0;
  private closed = false;

  constructor(private readonly options: RedisManagerRegistryOptions = {}) {
    this.keys = new RedisKeys(options.keyPrefix ?? WS_MANAGER_DEFAULTS.redisKeyPrefix);
    this.leaseTtlMs = options.leaseTtlMs ?? WS_MANAGER_DEFAULTS.leaseTtlMs;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 1000;
    this.reapBatch = options.reapBatch ?? 100;
  }

  /** Connects, writes this node's lease, starts its refresh and subscribes to eviction requests. */
  async start(nodeId: string): Promise<void> {
    this.nodeId = nodeId;
    const { Redis: RedisClient } = await import('ioredis');
    const client = this.options.client ?? new RedisClient(this.options.url ?? WS_MANAGER_DEFAULTS.redisUrl, outageAwareOptions(this.commandTimeoutMs));
    const subscriber = client.duplicate();
    this.client = client;
    this.subscriber = subscriber;
    // Without an 'error' listener ioredis prints every failed reconnect; outages are reported
    // through the rejections and ping() instead.
    for (const c of [client, subscriber]) c.on('error', () => undefined);
    // A reconnect is a 'ready' after a 'close' that followed an earlier 'ready'; failed attempts
    // while starting do not count.
    client.on('close', () => {
      if (this.everReady && !this.closed) this.lost = true;
    });
    client.on('ready', () => {
      if (this.lost && !this.closed) void this.afterReconnect();
      this.everReady = true;
    });
    subscriber.on('message', (_channel: string, message: string) => this.dispatchEviction(message));
    try {
      await Promise.all([waitUntilReady(client, START_TIMEOUT_MS), waitUntilReady(subscriber, START_TIMEOUT_MS)]);
      await this.loadScripts(client);
      await this.tick();
      await subscriber.subscribe(this.keys.evictionChannel(nodeId));
    } catch (error) {
      await this.close();
      throw toRegistryError(error);
    }
    this.timer = setInterval(() => void this.tick().catch(() => undefined), Math.max(1, Math.floor(this.leaseTtlMs / 3)));
    this.timer.unref();
  }

  /** Stops the lease refresh and closes the connections; this node's entries stay (see layout). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.evictionHandlers.clear();
    this.resyncHandlers.clear();
    const { client, subscriber } = this;
    // A graceful stop gives up the lease at once: this node's entries stop counting now, not a
    // lease TTL later, while its clients are reconnecting elsewhere.
    if (client?.status === 'ready') {
      await client.eval(RELEASE_LEASE_SCRIPT, 1, this.keys.lease(this.nodeId), this.leaseToken).catch(() => undefined);
    }
    if (subscriber) {
      if (subscriber.status === 'ready') await subscriber.unsubscribe().catch(() => undefined);
      await closeQuietly(subscriber);
    }
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

  /** One atomic script: reaps the user's dead entries, then returns the existing one, admits or refuses. */
  async admit(record: ManagerRecord, limit: number): Promise<AdmitResult> {
    let reply = await this.admitOnce(record, limit);
    if (reply[0] === -1) {
      // The lease lapsed before a tick noticed: renew it (which starts re-registration), then admit.
      await this.tick();
      reply = await this.admitOnce(record, limit);
      if (reply[0] === -1) throw new RegistryUnavailableError(new Error(`the lease of node ${this.nodeId} cannot be held`));
    }
    const [admitted, active, existing] = reply;
    const result: AdmitResult = { admitted: admitted === 1, active };
    if (existing !== undefined) result.existing = parseRecord(existing);
    return result;
  }

  private async admitOnce(record: ManagerRecord, limit: number): Promise<[number, number, string?]> {
    return (await this.run((c) =>
      evalScript(c, ADMIT_SCRIPT, this.userKeys(record.userId).concat(this.keys.lease(this.nodeId)), [
        this.keys.prefix,
        record.userId,
        record.managerId,
        record.context,
        record.nodeId,
        JSON.stringify(record),
        limit,
        this.leaseTtlMs,
        this.leaseToken,
      ]),
    )) as [number, number, string?];
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
    await this.run((c) => evalScript(c, UPDATE_SCRIPT, [this.keys.userManagers(userId)], [this.keys.prefix, managerId, lastActivityAt, detachedAt]));
  }

  /** Removes an entry from all indexes; `true` only for the call that removed it. */
  async remove(userId: string, managerId: string): Promise<boolean> {
    const removed = await this.run((c) => evalScript(c, REMOVE_SCRIPT, this.userKeys(userId), [this.keys.prefix, userId, managerId]));
    return removed === 1;
  }

  /**
   * SSCAN over the node's set. As with any SSCAN, `count` is a hint (small sets come back in one
   * page) and an entry may show up twice across pages while the set grows; callers reconcile
   * idempotently. Entries are returned whether or not the node is alive.
   */
  async scanNode(nodeId: string, cursor: string | undefined, count: number): Promise<RecordPage> {
    return this.run(async (c) => {
      const [next, members] = await c.sscan(this.keys.node(nodeId), cursor ?? '0', 'COUNT', count);
      const pairs = [...new Set(members)].map((m) => JSON.parse(m) as [string, string]);
      const pipeline = c.pipeline();
      for (const [userId, managerId] of pairs) pipeline.hget(this.keys.userManagers(userId), managerId);
      const replies = pairs.length === 0 ? [] : ((await pipeline.exec()) ?? []);
      const records: ManagerRecord[] = [];
      for (const [error, json] of replies) {
        if (error) throw error;
        const record = typeof json === 'string' ? parseRecord(json) : null;
        if (record?.nodeId === nodeId) records.push(record);
      }
      return next === '0' ? { records } : { records, cursor: next };
    });
  }

  /** Publishes the request on the owner's channel; the caller still removes the entry itself. */
  async requestEviction(request: EvictionRequest): Promise<void> {
    await this.run((c) => c.publish(this.keys.evictionChannel(request.record.nodeId), JSON.stringify(request)));
  }

  /** Eviction requests published for this node; returns the unsubscribe. */
  onEvictionRequest(handler: (request: EvictionRequest) => void): () => void {
    this.evictionHandlers.add(handler);
    return () => this.evictionHandlers.delete(handler);
  }

  /**
   * Calls `handler` whenever this node's entries may have stopped counting and the node counts
   * again: after the connection came back from an outage, and when a lease tick (or an admission)
   * finds the lease lapsed (the node or Redis was frozen past `leaseTtlMs`, Redis restarted
   * empty, or ticks failed for longer than the lease). Returns the unsubscribe.
   */
  onResync(handler: () => void): () => void {
    this.resyncHandlers.add(handler);
    return () => this.resyncHandlers.delete(handler);
  }


  private userKeys(userId: string): string[] {
    return [this.keys.userManagers(userId), this.keys.userContexts(userId)];
  }

  private read(userId: string, mode: 'get' | 'ctx' | 'list' | 'count', arg = ''): Promise<unknown> {
    return this.run((c) => evalScript(c, READ_SCRIPT, this.userKeys(userId), [this.keys.prefix, mode, arg]));
  }

  /** Runs `fn` on the ready client; anything that smells of an outage becomes RegistryUnavailableError. */
  private async run<T>(fn: (client: Redis) => Promise<T>): Promise<T> {
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

  /**
   * Refreshes the lease and reaps a bounded batch of dead nodes' entries: one EVALSHA. A lease
   * found gone or not ours, or a tick that could not reach Redis for longer than the lease, means
   * other nodes may have reaped our entries: the resync handlers re-register them.
   */
  private async tick(): Promise<void> {
    let held: boolean;
    try {
      const reply = (await this.run((c) =>
        evalScript(c, TICK_SCRIPT, [this.keys.lease(this.nodeId), this.keys.nodes()], [this.keys.prefix, this.leaseTtlMs, this.leaseToken, this.reapBatch]),
      )) as [number, number];
      held = reply[1] === 1;
      this.tickFailing = false;
    } catch (error) {
      if (!this.tickFailing) this.logger.warn(`could not refresh the registry lease of node ${this.nodeId}: ${String(error)}`);
      this.tickFailing = true;
      throw error;
    }
    const now = Date.now();
    const lapsed = this.lastTickAt > 0 && (!held || now - this.lastTickAt >= this.leaseTtlMs);
    this.lastTickAt = now;
    if (lapsed && !this.closed) {
      this.logger.warn(`the registry lease of node ${this.nodeId} lapsed; re-registering the managers it holds`);
      this.resync();
    }
  }

  private async loadScripts(client: Redis): Promise<void> {
    await Promise.all(ALL_SCRIPTS.map((s) => client.script('LOAD', s.lua)));
  }

  private async afterReconnect(): Promise<void> {
    try {
      await this.loadScripts(this.client!);
      await this.tick();
    } catch {
      return; // lost again; the next 'ready' retries
    }
    this.lost = false;
    this.logger.log(`registry connection of node ${this.nodeId} is back`);
    // Redis may have restarted, or lost writes, without the lease showing it: re-register anyway.
    this.resync();
  }

  private resync(): void {
    callEach(this.resyncHandlers, undefined, (error) => this.logger.error(`a registry resync handler failed: ${String(error)}`));
  }

  private dispatchEviction(message: string): void {
    const request = parseEvictionRequest(message);
    if (request?.record.nodeId !== this.nodeId) return;
    callEach(this.evictionHandlers, request, (error) =>
      this.logger.error(`an eviction handler failed for manager ${request.record.managerId}: ${String(error)}`),
    );
  }
}
