import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { RedisManagerRegistry, type RedisManagerRegistryOptions } from '../../src/registry/redis/index.js';

/** The shared Redis the registry suites run against (CI starts it, see `.ci/run`). */
export const REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * Fails the suite, loudly, when the shared Redis does not answer: a registry suite that skipped
 * itself would report green while testing nothing.
 */
export async function requireRedis(url = REDIS_URL): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    const where = process.env.CI ? 'CI must provide it (see .ci/run)' : 'start one: redis-server --daemonize yes --save "" --appendonly no';
    throw new Error(`Redis is not reachable at ${url} (${String(error)}); the registry tests need a real Redis: ${where}`, { cause: error });
  } finally {
    client.disconnect();
  }
}

/** A fresh key prefix, so each test sees an empty registry and can delete exactly its own keys. */
export function uniquePrefix(): string {
  return `wsm-test:${randomUUID()}:`;
}

/** Deletes every key under `prefix` (SCAN, never KEYS). */
export async function deleteKeys(prefix: string, url = REDIS_URL): Promise<void> {
  const client = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length > 0) await client.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}

/** A started registry on the shared Redis; close it, then {@link deleteKeys} its prefix. */
export async function startRedisRegistry(nodeId: string, options: RedisManagerRegistryOptions): Promise<RedisManagerRegistry> {
  const registry = new RedisManagerRegistry({ url: REDIS_URL, ...options });
  await registry.start(nodeId);
  return registry;
}

/** Whether a loopback port can be listened on right now. */
export function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free loopback port in 20000–30000. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 10000);
    if (await isFree(port)) return port;
  }
  throw new Error('no free port in 20000-30000');
}

/** A throwaway `redis-server` child on its own port, for outage tests that must not touch the shared one. */
export class RedisServerProcess {
  private child?: ChildProcess;

  private constructor(readonly port: number) {}

  /** Starts a server without persistence on a free port and waits until it answers. */
  static async start(): Promise<RedisServerProcess> {
    const server = new RedisServerProcess(await freePort());
    await server.restart();
    return server;
  }

  /** `redis://127.0.0.1:PORT`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts the server again on the same port (empty: no persistence). */
  async restart(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    this.child = child;
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        await requireRedis(this.url);
        return;
      } catch (error) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not start: ${String(error)}`, { cause: error });
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** SIGKILL, as a crash would; resolves once the process is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  /** Freezes (SIGSTOP) or thaws (SIGCONT) the server: connections stay open but unanswered. */
  pause(paused: boolean): void {
    this.child?.kill(paused ? 'SIGSTOP' : 'SIGCONT');
  }
}
