import type { Redis, RedisOptions } from 'ioredis';
import { RegistryUnavailableError } from '../../errors/registry-unavailable.error.js';
import type { RedisScript } from './redis-scripts.js';

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
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
  };
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
export async function evalScript(client: Redis, script: RedisScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
  try {
    return await client.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    return client.eval(script.lua, keys.length, ...keys, ...args);
  }
}

/** Resolves when `client` is ready; rejects with {@link RegistryUnavailableError} after `timeoutMs`. */
export function waitUntilReady(client: Redis, timeoutMs: number): Promise<void> {
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
export async function closeQuietly(client: Redis): Promise<void> {
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
