import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Child } from './lib/children.js';
import { sleep } from './lib/stats.js';

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

  /** Memory after two full collections. */
  async gc(): Promise<NodeJS.MemoryUsage> {
    return (await this.child.request<{ memory: NodeJS.MemoryUsage }>({ cmd: 'gc' }, 30_000)).memory;
  }

  stop(): Promise<void> {
    return this.child.stop(3000);
  }
}
