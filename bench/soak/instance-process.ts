import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { ManagerInventoryEntry } from '../../src/admin/admin-inventory.js';

/** dist/example/main.js, next to this file's compiled copy (dist/bench/soak/) or its source (bench/soak/). */
const MAIN = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../example/main.js' : '../../dist/example/main.js', import.meta.url));

/** Secret the chaos suite and the soak sign client tokens with. */
export const CHAOS_JWT_SECRET = 'chaos-secret-0123456789abcdef';
/** Bearer token of the instances' admin API. */
export const CHAOS_ADMIN_TOKEN = 'chaos-admin-token';

/** One manager as the admin API lists it (`GET /admin/users/:userId/managers`). */
export type InventoryEntry = ManagerInventoryEntry;

/** How to start one instance of the example application. */
export interface InstanceSettings {
  nodeId: string;
  redisUrl: string;
  keyPrefix: string;
  /** Further `WS_*` variables (limit, lease, heartbeat...). */
  env?: Record<string, string>;
}

/**
 * One instance of the example application as a real child process, so that a fault can
 * freeze (SIGSTOP), thaw (SIGCONT) or kill (SIGKILL) it. Defaults suit fault runs: a 2 s lease
 * and a sweep every second.
 */
export class InstanceProcess {
  private readonly tail: string[] = [];
  private frozen = false;

  private constructor(
    readonly nodeId: string,
    readonly port: number,
    private readonly child: ChildProcess,
  ) {}

  /** Spawns `node dist/example/main.js` and resolves once it prints its listening line. */
  static async start(settings: InstanceSettings): Promise<InstanceProcess> {
    const env = {
      ...process.env,
      PORT: '0',
      NO_COLOR: '1',
      WS_REGISTRY: 'redis',
      WS_REDIS_URL: settings.redisUrl,
      WS_REDIS_KEY_PREFIX: settings.keyPrefix,
      WS_NODE_ID: settings.nodeId,
      WS_JWT_SECRET: CHAOS_JWT_SECRET,
      WS_ADMIN_TOKEN: CHAOS_ADMIN_TOKEN,
      WS_LEASE_TTL_MS: '2000',
      WS_CLEANUP_CRON: '* * * * * *',
      ...settings.env,
    };
    const child = spawn(process.execPath, [MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      const onData = (chunk: Buffer) => {
        out += String(chunk);
        const match = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
        if (match) resolve(Number(match[1]));
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', (chunk: Buffer) => lines.push(String(chunk)));
      child.once('exit', (code, signal) => reject(new Error(`instance ${settings.nodeId} exited (${code ?? signal}) before listening:\n${out}${lines.join('')}`)));
    });
    const instance = new InstanceProcess(settings.nodeId, port, child);
    // Keep draining the pipes: a child blocked on a full stdout pipe would look frozen.
    for (const stream of [child.stdout!, child.stderr!]) stream.on('data', (chunk: Buffer) => instance.keep(String(chunk)));
    return instance;
  }

  /** `ws://127.0.0.1:PORT/ws?token=...&context=...`. */
  wsUrl(token: string, context?: string): string {
    const url = new URL(`ws://127.0.0.1:${this.port}/ws`);
    url.searchParams.set('token', token);
    if (context !== undefined) url.searchParams.set('context', context);
    return url.toString();
  }

  /** `true` while the process runs and is not frozen. */
  get alive(): boolean {
    return !this.frozen && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGSTOP: the process stops answering anything (Redis, pings, HTTP), its sockets stay open. */
  freeze(): void {
    this.frozen = true;
    this.child.kill('SIGSTOP');
  }

  /** SIGCONT. */
  thaw(): void {
    this.child.kill('SIGCONT');
    this.frozen = false;
  }

  /** SIGTERM, as a deploy would (the app drains its sockets with 1001); resolves once the process is gone. */
  stop(): Promise<void> {
    return this.end('SIGTERM');
  }

  /** SIGKILL, as a crash would; resolves once the process is gone. */
  kill(): Promise<void> {
    return this.end('SIGKILL');
  }

  private async end(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGCONT'); // a frozen process handles nothing, SIGTERM included
    this.child.kill(signal);
    await exited;
  }

  /** The instance's own managers of `userId` (entries it holds, with their open connection counts). */
  async localManagers(userId: string): Promise<InventoryEntry[]> {
    const res = await fetch(`http://127.0.0.1:${this.port}/admin/users/${encodeURIComponent(userId)}/managers`, {
      headers: { authorization: `Bearer ${CHAOS_ADMIN_TOKEN}` },
      signal: AbortSignal.timeout(5000),
    });
    if (res.status !== 200) throw new Error(`admin API of ${this.nodeId} answered ${res.status}: ${await res.text()}`);
    return ((await res.json()) as InventoryEntry[]).filter((e) => e.nodeId === this.nodeId);
  }

  /** The last lines the instance printed, for failure messages. */
  recentOutput(): string {
    return this.tail.join('');
  }

  private keep(text: string): void {
    // The per-second sweep's debug line would push everything else out.
    for (const line of text.split('\n')) if (line.trim() !== '' && !line.includes(' DEBUG ')) this.tail.push(`${line}\n`);
    if (this.tail.length > 40) this.tail.splice(0, this.tail.length - 40);
  }
}
