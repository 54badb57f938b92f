import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './redis.js';

const run = promisify(execFile);

async function cli(port: number, args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 5000 });
  return stdout.trim();
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A primary, one replica and one Sentinel (`redis-server --sentinel`, quorum 1, down after 1 s),
 * each a child on a free loopback port; the primary is called `mymaster`.
 */
export class LocalRedisSentinel {
  readonly name = 'mymaster';

  private constructor(
    private readonly dir: string,
    readonly ports: { primary: number; replica: number; sentinel: number },
    private readonly children: Map<number, ChildProcess>,
  ) {}

  /** Starts the three servers and waits until the Sentinel knows the replica. */
  static async start(): Promise<LocalRedisSentinel> {
    const dir = await mkdtemp(join(tmpdir(), 'wsm-sentinel-'));
    const ports = { primary: await freePort(), replica: await freePort(), sentinel: await freePort() };
    const children = new Map<number, ChildProcess>();
    const server = (port: number, extra: string[]) => {
      children.set(port, spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extra], { stdio: 'ignore' }));
    };
    const local = new LocalRedisSentinel(dir, ports, children);
    try {
      server(ports.primary, []);
      server(ports.replica, ['--replicaof', '127.0.0.1', String(ports.primary)]);
      const conf = join(dir, 'sentinel.conf');
      await writeFile(
        conf,
        [
          `port ${ports.sentinel}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor mymaster 127.0.0.1 ${ports.primary} 1`,
          'sentinel down-after-milliseconds mymaster 1000',
          'sentinel failover-timeout mymaster 5000',
          'sentinel parallel-syncs mymaster 1',
          '',
        ].join('\n'),
      );
      children.set(ports.sentinel, spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' }));
      await until('replica in sync', async () => /master_link_status:up/.test(await cli(ports.replica, ['info', 'replication'])));
      await until('sentinel sees the replica', async () => (await cli(ports.sentinel, ['sentinel', 'replicas', 'mymaster'])).includes(String(ports.replica)));
    } catch (error) {
      await local.stop();
      throw error;
    }
    return local;
  }

  /** The `redis-sentinel://` URL of the primary. */
  get url(): string {
    return `redis-sentinel://127.0.0.1:${this.ports.sentinel}/${this.name}`;
  }

  /** The port Sentinel currently names as the primary. */
  async primaryPort(): Promise<number> {
    const reply = await cli(this.ports.sentinel, ['sentinel', 'get-master-addr-by-name', this.name]);
    return Number(reply.split('\n')[1]);
  }

  /** SIGKILLs the current primary and waits until Sentinel has promoted the replica. */
  async killPrimary(): Promise<number> {
    const old = await this.primaryPort();
    const child = this.children.get(old);
    if (child && child.exitCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
    await until('sentinel failover', async () => (await this.primaryPort()) !== old, 30_000);
    const promoted = await this.primaryPort();
    await until('promoted replica is a primary', async () => /role:master/.test(await cli(promoted, ['info', 'replication'])));
    return promoted;
  }

  /** Kills every child and removes the directory. */
  async stop(): Promise<void> {
    for (const child of this.children.values()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
