import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { Redis } from 'ioredis';

/** A loopback port the kernel just handed out (free when this resolves). */
function ephemeralPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * The soak's own `redis-server` (no persistence), so that it can stall it with SIGSTOP without
 * touching a shared Redis. (The test suite has the same for its outage cases in
 * test/support/redis.ts; the soak is built into dist/ and cannot import test code.)
 */
export class SoakRedis {
  private constructor(
    readonly url: string,
    private readonly child: ChildProcess,
  ) {}

  /** Starts it and waits until it answers PING. */
  static async start(): Promise<SoakRedis> {
    const port = await ephemeralPort();
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const server = new SoakRedis(`redis://127.0.0.1:${port}`, child);
    const probe = new Redis(server.url, { retryStrategy: () => 50, maxRetriesPerRequest: null });
    probe.on('error', () => undefined);
    try {
      await Promise.race([probe.ping(), once(child, 'exit').then(() => Promise.reject(new Error(`redis-server on port ${port} exited`)))]);
    } finally {
      probe.disconnect();
    }
    return server;
  }

  /** SIGSTOP (stalled: connections stay up, nothing answers) or SIGCONT. */
  stall(stalled: boolean): void {
    this.child.kill(stalled ? 'SIGSTOP' : 'SIGCONT');
  }

  /** SIGKILL. */
  kill(): void {
    this.child.kill('SIGCONT');
    this.child.kill('SIGKILL');
  }
}
