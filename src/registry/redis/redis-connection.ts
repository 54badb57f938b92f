import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import { RegistryUnavailableError } from '../../errors/registry-unavailable.error.js';
import type { RedisScript } from './redis-scripts.js';
import type { RedisEndpoint } from './redis-url.js';

/** A connection the registry can use: one Redis (also behind Sentinel) or a Redis Cluster. */
export type RedisClient = Redis | Cluster;

/** Backoff of every reconnection: 100 ms, 200 ms, … capped at 2 s, never giving up. */
const backoff = (times: number): number => Math.min(50 * 2 ** Math.min(times, 6), 2000);

/**
 * ioredis settings that make an outage visible at once instead of queueing commands forever:
 * no offline queue (a command while disconnected fails immediately), a command timeout for a
 * connection that is up but silent, and reconnection that never gives up, with capped backoff.
 */
export function outageAwareOptions(commandTimeoutMs: number): RedisOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: commandTimeoutMs,
    connectTimeout: Math.max(commandTimeoutMs, 2000),
    retryStrategy: backoff,
  };
}

/**
 * Makes the client for an endpoint (not connected yet: `lazyConnect`). On a cluster, reads go
 * to primaries (the registry needs its own writes back), pub/sub is sharded (`SSUBSCRIBE` on the
 * shard that owns the channel) and commands fail fast while a slot has no reachable primary.
 */
export function createRedisClient(ioredis: { Redis: typeof Redis; Cluster: typeof Cluster }, endpoint: RedisEndpoint, commandTimeoutMs: number): RedisClient {
  const base = outageAwareOptions(commandTimeoutMs);
  if (endpoint.mode === 'single') return new ioredis.Redis(endpoint.url, base);
  const { username, password } = endpoint;
  const auth = { ...(username === undefined ? {} : { username }), ...(password === undefined ? {} : { password }), ...(endpoint.tls ? { tls: {} } : {}) };
  if (endpoint.mode === 'sentinel') {
    return new ioredis.Redis({ ...base, ...auth, sentinels: endpoint.sentinels, name: endpoint.name, db: endpoint.db, ...(endpoint.tls ? { sentinelTLS: {} } : {}) });
  }
  const { retryStrategy: _node, enableOfflineQueue: _queue, lazyConnect: _lazy, ...perNode } = base;
  const options: ClusterOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    scaleReads: 'master',
    shardedSubscribers: true,
    clusterRetryStrategy: backoff,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: Math.max(commandTimeoutMs, 1000),
    slotsRefreshInterval: 2000,
    redisOptions: { ...perNode, ...auth },
  };
  return new ioredis.Cluster(endpoint.nodes, options);
}

/** Whether `client` is a Redis Cluster client. */
export function isCluster(client: RedisClient): client is Cluster {
  return (client as Cluster).isCluster === true;
}

// Reply errors that mean "the server cannot serve now" rather than "the command is wrong".
const UNAVAILABLE_REPLIES = /^(LOADING|BUSY|MASTERDOWN|READONLY|TRYAGAIN|CLUSTERDOWN|OOM)\b/;

/**
 * Maps a failure of a Redis call: connection loss, timeouts and "not now" replies become
 * {@link RegistryUnavailableError}; any other reply error (a script bug) is rethrown unchanged so
 * that it is not mistaken for an outage.
 */
export function toRegistryError(error: unknown): Error {
  if (error instanceof RegistryUnavailableError) return error;
  if (error instanceof Error && error.name === 'ReplyError' && !UNAVAILABLE_REPLIES.test(error.message)) return error;
  return new RegistryUnavailableError(error);
}

/** Runs `script` by EVALSHA, loading it by EVAL when this server has not cached it (NOSCRIPT). */
export async function evalScript(client: RedisClient, script: RedisScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
  try {
    return await client.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    return client.eval(script.lua, keys.length, ...keys, ...args);
  }
}

/** SCRIPT LOAD on every primary (EVALSHA falls back to EVAL anyway; this saves the first miss). */
export async function loadScripts(client: RedisClient, scripts: readonly RedisScript[]): Promise<void> {
  const servers = isCluster(client) ? client.nodes('master') : [client];
  await Promise.all(servers.flatMap((server) => scripts.map((s) => server.script('LOAD', s.lua))));
}

/** Resolves when `client` is ready; rejects with {@link RegistryUnavailableError} after `timeoutMs`. */
export function waitUntilReady(client: RedisClient, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    let lastError: unknown;
    const onError = (error: unknown): void => {
      lastError = error;
    };
    const onReady = (): void => {
      done();
      resolve();
    };
    const timer = setTimeout(() => {
      done();
      reject(new RegistryUnavailableError(lastError ?? new Error(`redis not ready after ${timeoutMs} ms`)));
    }, timeoutMs);
    function done(): void {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('error', onError);
    }
    client.on('ready', onReady);
    client.on('error', onError);
    // With a retry strategy that never gives up, connect() rejects on the first failure while
    // reconnection carries on in the background; the timer above is what decides.
    if (client.status === 'wait') client.connect().catch(() => undefined);
  });
}

/** QUIT when connected (lets replies drain), else drop the socket; never throws. */
export async function closeQuietly(client: RedisClient): Promise<void> {
  if (client.status === 'end') return;
  if (client.status === 'ready') {
    try {
      await client.quit();
      return;
    } catch {
      // fall through: the connection went away meanwhile
    }
  }
  client.disconnect();
}
