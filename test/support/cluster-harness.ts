import { Cluster, Redis } from 'ioredis';
import { CHAOS_JWT_SECRET, InstanceProcess } from '../../bench/soak/instance-process.js';
import { converge, keysUnder, type RegistryReader } from '../../bench/soak/invariants.js';
import { SessionClient, type Outcome } from '../../bench/soak/session-client.js';
import { signUserToken } from '../../example/jwt-identity.js';
import { parseRedisUrl } from '../../src/registry/redis/redis-url.js';
import { REDIS_URL, requireRedis, uniquePrefix } from './redis.js';
import { LocalRedisCluster } from './redis-cluster.js';

/** How long a fault case waits for convergence: generous, the machine is shared (never a timing assertion). */
export const CONVERGENCE_TIMEOUT_MS = 30_000;

/** Sleeps `ms`. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Which Redis a fault case runs on: the shared single Redis, or a local Redis Cluster of 3 primaries. */
export type ChaosBackend = 'single' | 'cluster';

/** Both backends, for `describe.each(CHAOS_BACKENDS)`. */
export const CHAOS_BACKENDS: readonly ChaosBackend[] = ['single', 'cluster'];

/**
 * The Redis of one backend, for one spec file: {@link start} in `beforeAll` (checks the shared
 * Redis, or starts a {@link LocalRedisCluster} on its own ports), {@link url} for each
 * {@link ChaosCluster}, {@link stop} in `afterAll`. One cluster per file: it takes ~10 s to start.
 */
export class ChaosRedis {
  private local: LocalRedisCluster | undefined;

  constructor(readonly backend: ChaosBackend) {}

  /** `redis://` of the shared Redis, or the local cluster's `redis-cluster://host:port,…`. */
  get url(): string {
    if (this.backend === 'single') return REDIS_URL;
    if (!this.local) throw new Error('ChaosRedis.start() was not called (or failed)');
    return this.local.url;
  }

  /** Fails unless the shared Redis answers; or starts the local cluster. */
  async start(): Promise<void> {
    if (this.backend === 'single') await requireRedis();
    else this.local = await LocalRedisCluster.start();
  }

  /** Stops the local cluster (the shared Redis is never stopped). */
  async stop(): Promise<void> {
    await this.local?.stop();
    this.local = undefined;
  }
}

/**
 * Instances of the example app as child processes on one Redis (the shared one under a fresh
 * prefix, a test's own `redis-server`, or a local Redis Cluster given as `redis-cluster://…`),
 * the test's clients, and the invariant check over them.
 */
export class ChaosCluster {
  readonly keyPrefix = uniquePrefix();
  readonly instances: InstanceProcess[] = [];
  readonly clients = new Set<SessionClient>();
  readonly redis: RegistryReader;
  private readonly tokens = new Map<string, Promise<string>>();

  constructor(
    readonly redisUrl = REDIS_URL,
    private readonly env: Record<string, string> = {},
  ) {
    // Reads the registry; retries forever so that a check after a Redis restart just waits
    // (unlike the registry's own client, which fails fast). A cluster client routes each key
    // command to its slot's primary.
    const endpoint = parseRedisUrl(redisUrl);
    this.redis =
      endpoint.mode === 'cluster'
        ? new Cluster(endpoint.nodes, { scaleReads: 'master', clusterRetryStrategy: () => 100, redisOptions: { maxRetriesPerRequest: null } })
        : new Redis(redisUrl, { maxRetriesPerRequest: null, retryStrategy: () => 100 });
    this.redis.on('error', () => undefined);
  }

  /** Starts an instance named `nodeId` (env: the cluster's, then `env`). */
  async start(nodeId: string, env: Record<string, string> = {}): Promise<InstanceProcess> {
    const instance = await InstanceProcess.start({ nodeId, redisUrl: this.redisUrl, keyPrefix: this.keyPrefix, env: { ...this.env, ...env } });
    this.instances.push(instance);
    return instance;
  }

  /** A token for `userId` (`sub`), signed with the instances' secret. */
  token(userId: string): Promise<string> {
    let token = this.tokens.get(userId);
    if (!token) this.tokens.set(userId, (token = signUserToken(CHAOS_JWT_SECRET, userId)));
    return token;
  }

  /** Opens a client to `instance`; does not wait for the admission (see {@link connect}). */
  async open(instance: InstanceProcess, userId: string, context?: string): Promise<SessionClient> {
    const client = new SessionClient(userId, instance.nodeId, instance.wsUrl(await this.token(userId), context));
    this.clients.add(client);
    return client;
  }

  /** Opens a client and waits for how its admission ended. */
  async connect(instance: InstanceProcess, userId: string, context?: string): Promise<{ client: SessionClient; outcome: Outcome }> {
    const client = await this.open(instance, userId, context);
    return { client, outcome: await client.outcome };
  }

  /**
   * Polls the invariants (I1, I3) for `users` until they hold or {@link CONVERGENCE_TIMEOUT_MS}
   * passes; returns the last violations (expect them to equal `[]`, with {@link output} as message).
   */
  converged(users: readonly string[], limit: number): Promise<string[]> {
    return converge({ redis: this.redis, keyPrefix: this.keyPrefix, users, limit, instances: this.instances, clients: this.clients }, CONVERGENCE_TIMEOUT_MS);
  }

  /** The instances' recent output (warnings and errors), for a failure message. */
  output(): string {
    return this.instances.map((i) => `--- ${i.nodeId}:\n${i.recentOutput()}`).join('\n');
  }

  /** Kills every instance and client, deletes the prefix's keys, closes the Redis client. */
  async stop(): Promise<void> {
    for (const client of this.clients) client.ws.terminate();
    await Promise.all(this.instances.map((i) => i.kill()));
    // One DEL per key: on a cluster the keys sit in different slots.
    if (this.redis.status === 'ready') await keysUnder(this.redis, this.keyPrefix).then((keys) => Promise.all(keys.map((k) => this.redis.del(k)))).catch(() => undefined);
    this.redis.disconnect();
  }
}
