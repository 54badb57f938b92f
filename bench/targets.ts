import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Child } from './lib/children.js';
import { cpusAllowedList, parseCpuList } from './lib/cpus.js';
import { sleep, type Summary } from './lib/stats.js';

/** `dist/` of this build (this file is `dist/bench/targets.js`). */
export const DIST_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * A server under test: the module's example application, the bare `ws` baseline, or a plain Nest
 * gateway (Nest's own `WsAdapter`, no module), which splits the module's ratio into what Nest's
 * gateway pipeline costs and what the module adds.
 */
export interface Target {
  name: 'module' | 'bare' | 'nest';
  /** Compiled entry, run inside `server-wrapper.js`. */
  entry: string;
  /** The socket scenarios it runs in (all when absent). */
  scenarios?: readonly string[];
}

export const BARE: Target = { name: 'bare', entry: join(DIST_DIR, 'bench', 'bare-server.js') };
export const MODULE: Target = { name: 'module', entry: join(DIST_DIR, 'example', 'main.js') };
/** Only where the targets are about speed: its figures are context, not judged. */
export const NEST: Target = { name: 'nest', entry: join(DIST_DIR, 'bench', 'nest-server.js'), scenarios: ['admission', 'echo'] };

/** The targets available in this build (the example app may not be built yet). */
export function availableTargets(): Target[] {
  return [BARE, MODULE, NEST].filter((t) => existsSync(t.entry));
}

/** What the wrapper's `sample` answers. */
export interface ServerSample {
  wallMs: number;
  cpuUserUs: number;
  cpuSystemUs: number;
  /** Of which the main thread (JavaScript and its system calls), on Linux; see `lib/thread-cpu.ts`. */
  mainThreadCpuUs?: number;
  /** Of which every other thread (V8's background GC and compilers, libuv's pool), on Linux. */
  otherThreadsCpuUs?: number;
  eldMaxMs: number;
  eldP99Ms: number;
  eldMeanMs: number;
  gcMaxMs: number;
  gcTotalMs: number;
  memory: NodeJS.MemoryUsage;
  /** The CPUs the server may run on (Linux's `Cpus_allowed_list`, e.g. `1` under `--pin`). */
  cpusAllowed?: string;
}

/** CPUs (a `taskset` list) the servers are moved to; `undefined`: the scheduler decides. */
let serverCpus: string | undefined;

/** Moves every thread of `pid` to `cpus` (a `taskset` list such as `1` or `2-3`). */
function pinProcess(pid: number, cpus: string): void {
  execFileSync('taskset', ['--all-tasks', '--cpu-list', '--pid', cpus, String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** taskset's own words when it failed (execFileSync keeps its stderr), else the error's message. */
function tasksetError(error: unknown): string {
  const stderr = (error as { stderr?: Buffer | string } | undefined)?.stderr;
  const text = stderr === undefined ? '' : String(stderr).trim();
  return text || (error instanceof Error ? error.message : String(error));
}

/**
 * `--pin`: the servers get the last allowed CPU to themselves; this process, and so the load
 * clients it forks from now on, the others. Client and server then no longer take turns on the
 * same cores, which is most of the round-trip spread on a two-core machine. Linux only (`taskset`).
 */
export function pinServersToLastCpu(): { server: string; load: string } {
  const list = cpusAllowedList();
  if (list === undefined) throw new Error('--pin needs Linux (/proc/self/status)');
  const cpus = parseCpuList(list);
  if (cpus.length < 2) throw new Error(`--pin needs at least 2 CPUs, this process may use ${cpus.length}`);
  const server = String(cpus.at(-1));
  const load = cpus.slice(0, -1).join(',');
  try {
    pinProcess(process.pid, load);
  } catch (error) {
    throw new Error(`--pin: taskset failed (${tasksetError(error)}); it needs util-linux`, { cause: error });
  }
  serverCpus = server;
  return { server, load };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function healthy(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1000) });
    return response.status === 200;
  } catch {
    return false;
  }
}

/** A target running in `server-wrapper.js` under `--expose-gc`, with its measurement hooks. */
export class ServerHandle {
  private constructor(
    readonly target: Target,
    readonly port: number,
    readonly child: Child,
  ) {}

  static async start(target: Target, env: Record<string, string>, nodeFlags: string[] = []): Promise<ServerHandle> {
    const port = await freePort();
    const child = new Child(join(DIST_DIR, 'bench', 'server-wrapper.js'), [target.entry], {
      label: `${target.name} server`,
      execArgv: ['--expose-gc', ...nodeFlags],
      env: { ...process.env, NODE_ENV: 'production', ...env, PORT: String(port) },
    });
    if (serverCpus !== undefined) {
      try {
        pinProcess(child.pid, serverCpus);
      } catch (error) {
        await child.stop(500);
        throw new Error(`could not pin ${target.name} server to CPU ${serverCpus}: ${tasksetError(error)}`, { cause: error });
      }
    }
    const ready = new Promise<void>((resolve, reject) => {
      child.waitForLine(/listening on/i, 30_000).then(resolve, reject);
      void (async () => {
        const deadline = Date.now() + 30_000;
        while (Date.now() < deadline && child.process.exitCode === null) {
          if (await healthy(port)) return resolve();
          await sleep(250);
        }
      })();
    });
    try {
      await ready;
    } catch (error) {
      await child.stop(500);
      throw error;
    }
    return new ServerHandle(target, port, child);
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  /** Restarts the CPU and event-loop-delay window. */
  async mark(): Promise<void> {
    await this.child.request({ cmd: 'mark' }, 10_000);
  }

  /** CPU, event-loop delay since the last mark, and memory now. */
  sample(): Promise<ServerSample> {
    return this.child.request<ServerSample>({ cmd: 'sample' }, 10_000);
  }

  /** Installs the server-side latency probe, not yet recording (see ServerLatencyProbe: before any warm-up). */
  async latencyInstall(): Promise<void> {
    await this.child.request({ cmd: 'latency-install' }, 10_000);
  }

  /** Starts timing the server's own share of each answered chunk. */
  async latencyStart(): Promise<void> {
    await this.child.request({ cmd: 'latency-start' }, 10_000);
  }

  /** The server-side chunk-to-write times (µs) since {@link latencyStart}. */
  async latencyRead(): Promise<Summary> {
    return (await this.child.request<{ latencyUs: Summary }>({ cmd: 'latency-read' }, 10_000)).latencyUs;
  }

  /** Puts the server's socket methods back. */
  async latencyUninstall(): Promise<void> {
    await this.child.request({ cmd: 'latency-uninstall' }, 10_000);
  }

  /** Memory after two full collections. */
  async gc(): Promise<NodeJS.MemoryUsage> {
    return (await this.child.request<{ memory: NodeJS.MemoryUsage }>({ cmd: 'gc' }, 30_000)).memory;
  }

  stop(): Promise<void> {
    return this.child.stop(3000);
  }
}
