import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { freePort, isFree } from './redis.js';

const run = promisify(execFile);

/** One `redis-server` of the local cluster. */
export interface ClusterNodeProcess {
  port: number;
  child: ChildProcess;
}

/**
 * A real local Redis Cluster of 3 primaries and 3 replicas, each a `redis-server
 * --cluster-enabled yes` child on a free loopback port, joined by `redis-cli --cluster create`.
 * Nothing persists; {@link stop} kills the servers and removes their config files.
 */
export class LocalRedisCluster {
  private constructor(
    readonly nodes: ClusterNodeProcess[],
    private readonly dir: string,
  ) {}

  /**
   * Starts six servers, creates the cluster and waits until every node says `cluster_state:ok`.
   * A port taken between the check and the start (other suites start servers too; the bus port
   * may meet an ephemeral port) fails one attempt: it is retried on fresh ports.
   */
  static async start(attempts = 3): Promise<LocalRedisCluster> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await LocalRedisCluster.startOnce();
      } catch (error) {
        if (attempt >= attempts) throw error;
      }
    }
  }

  private static async startOnce(): Promise<LocalRedisCluster> {
    const dir = await mkdtemp(join(tmpdir(), 'wsm-cluster-'));
    const ports: number[] = [];
    while (ports.length < 6) {
      const port = await freePort();
      // The cluster bus listens on port + 10000: keep both free and distinct.
      if (!ports.includes(port) && !ports.includes(port + 10000) && (await isFree(port + 10000))) ports.push(port);
    }
    const nodes = ports.map((port) => ({ port, child: startNode(dir, port) }));
    const cluster = new LocalRedisCluster(nodes, dir);
    try {
      await Promise.all(ports.map((port) => waitForPing(port, nodes)));
      await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], { timeout: 30_000 });
      await cluster.waitUntilHealthy();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** `redis-cluster://` URL naming every node (the registry discovers the topology from any). */
  get url(): string {
    return `redis-cluster://${this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`;
  }

  /** Seed nodes for an ioredis `Cluster`. */
  get seeds(): { host: string; port: number }[] {
    return this.nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
  }

  /** A plain ioredis Cluster client for assertions (close it with `disconnect()`). */
  client(): Cluster {
    return new Cluster(this.seeds, { scaleReads: 'master' });
  }

  /**
   * Polls until every running node reports `cluster_state:ok` with every slot served, and every
   * replica is in sync with its primary (a replica that never synced refuses to take over).
   */
  async waitUntilHealthy(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const running = this.running();
      const replication = await Promise.all(running.map((n) => command(n.port, ['info', 'replication']).catch(() => '')));
      const infos = await Promise.all(running.map((n) => command(n.port, ['cluster', 'info']).catch(() => '')));
      const synced = replication.every((info) => !/role:slave/.test(info) || /master_link_status:up/.test(info));
      if (synced && infos.every((info) => /cluster_state:ok/.test(info) && /cluster_slots_ok:16384/.test(info))) return;
      if (Date.now() > deadline) throw new Error(`cluster not healthy after ${timeoutMs} ms:\n${[...infos, ...replication].join('\n')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Ports of the current primaries and replicas, from `CLUSTER NODES` of a running node. */
  async roles(): Promise<{ primaries: number[]; replicas: { port: number; of: number }[] }> {
    const text = await command(this.running()[0]!.port, ['cluster', 'nodes']);
    const lines = text.trim().split('\n').map((l) => l.split(' '));
    const portOf = new Map(lines.map((f) => [f[0]!, Number(/:(\d+)@/.exec(f[1]!)?.[1])]));
    const alive = lines.filter((f) => !f[2]!.includes('fail'));
    return {
      primaries: alive.filter((f) => f[2]!.includes('master')).map((f) => portOf.get(f[0]!)!),
      replicas: alive.filter((f) => f[2]!.includes('slave')).map((f) => ({ port: portOf.get(f[0]!)!, of: portOf.get(f[3]!)! })),
    };
  }

  /** The primary serving `key`'s slot. */
  async primaryOf(key: string): Promise<number> {
    const slot = Number(await command(this.running()[0]!.port, ['cluster', 'keyslot', key]));
    const slots = JSON.parse(await command(this.running()[0]!.port, ['--json', 'cluster', 'slots'])) as [number, number, [string, number]][];
    const range = slots.find(([from, to]) => slot >= from && slot <= to);
    if (!range) throw new Error(`no primary serves slot ${slot}`);
    return range[2][1];
  }

  /**
   * Promotes the replica of `primaryPort` with `CLUSTER FAILOVER` (coordinated: no write lost)
   * and waits until it serves the slots.
   */
  async failover(primaryPort: number): Promise<number> {
    const replica = (await this.roles()).replicas.find((r) => r.of === primaryPort);
    if (!replica) throw new Error(`no replica of ${primaryPort}`);
    await command(replica.port, ['cluster', 'failover']);
    const deadline = Date.now() + 20_000;
    while (!(await this.roles()).primaries.includes(replica.port)) {
      if (Date.now() > deadline) throw new Error(`replica ${replica.port} was not promoted`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await this.waitUntilHealthy();
    return replica.port;
  }

  /**
   * SIGKILLs one node, as a crash would. When it was a primary, waits until the cluster has
   * noticed (after `cluster-node-timeout`, 2 s here), promoted its replica and serves every slot
   * again; resolves with the promoted replica's port (or `undefined` for a replica).
   */
  async kill(port: number): Promise<number | undefined> {
    const node = this.nodes.find((n) => n.port === port);
    if (!node || node.child.exitCode !== null || node.child.signalCode !== null) return undefined;
    const replica = (await this.roles()).replicas.find((r) => r.of === port);
    const exited = once(node.child, 'exit');
    node.child.kill('SIGKILL');
    await exited;
    if (!replica) return undefined;
    const deadline = Date.now() + 30_000;
    while (!(await this.roles().catch(() => ({ primaries: [] as number[] }))).primaries.includes(replica.port)) {
      if (Date.now() > deadline) throw new Error(`replica ${replica.port} of killed primary ${port} was not promoted`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await this.waitUntilHealthy();
    return replica.port;
  }

  /** Freezes (SIGSTOP) or thaws (SIGCONT) every server: connections stay open but unanswered. */
  pause(paused: boolean): void {
    for (const node of this.running()) node.child.kill(paused ? 'SIGSTOP' : 'SIGCONT');
  }

  /** Deletes every key under `prefix` (SCAN on every primary, DEL through a cluster client, never KEYS). */
  async deleteKeys(prefix: string): Promise<void> {
    const { primaries } = await this.roles();
    const cluster = this.client();
    try {
      await Promise.all(
        primaries.map(async (port) => {
          const node = new Redis(port, '127.0.0.1');
          try {
            let cursor = '0';
            do {
              const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
              // Keys of one page sit in different slots, and the node may have just lost some of them.
              await Promise.all(keys.map((k) => cluster.del(k)));
              cursor = next;
            } while (cursor !== '0');
          } finally {
            node.disconnect();
          }
        }),
      );
    } finally {
      cluster.disconnect();
    }
  }

  /** Kills every server and removes the config directory. */
  async stop(): Promise<void> {
    await Promise.all(
      this.nodes.map(async ({ child }) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        await exited;
      }),
    );
    await rm(this.dir, { recursive: true, force: true });
  }

  private running(): ClusterNodeProcess[] {
    return this.nodes.filter((n) => n.child.exitCode === null && n.child.signalCode === null);
  }
}

function startNode(dir: string, port: number): ChildProcess {
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--cluster-enabled', 'yes',
    '--cluster-config-file', join(dir, `nodes-${port}.conf`),
    '--cluster-node-timeout', '2000',
    '--dir', dir,
    '--save', '',
    '--appendonly', 'no',
    // Replicas sync at once instead of after the default 5 s wait for more replicas.
    '--repl-diskless-sync-delay', '0',
  ];
  return spawn('redis-server', args, { stdio: 'ignore' });
}

async function command(port: number, args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 5000 });
  return stdout;
}

async function waitForPing(port: number, nodes: ClusterNodeProcess[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if ((await command(port, ['ping']).catch(() => '')).trim() === 'PONG') return;
    const node = nodes.find((n) => n.port === port);
    if (node?.child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server on port ${port} did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
