import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { signUserToken } from '../../example/jwt-identity.js';
import { TEST_SECRET } from './app-harness.js';

const MAIN = fileURLToPath(new URL('../../dist/example/main.js', import.meta.url));

/** The example application (dist/) in its own process, so its memory can be read on its own. */
export class AppProcess {
  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
    private readonly output: () => string,
  ) {}

  /** Starts it on a free port with `env` and waits until it listens. */
  static async start(env: Record<string, string>): Promise<AppProcess> {
    const child = spawn(process.execPath, [MAIN], {
      env: { ...process.env, PORT: '0', WS_JWT_SECRET: TEST_SECRET, WS_CLEANUP_CRON: '0 0 0 1 1 *', NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stderr!.on('data', (chunk: Buffer) => (out += String(chunk)));
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        out += String(chunk);
        const match = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
        if (match) resolve(Number(match[1]));
      });
      child.once('exit', (code) => reject(new Error(`app exited ${code}: ${out}`)));
    });
    return new AppProcess(child, port, () => out);
  }

  /** What the app printed (stdout and stderr). */
  get log(): string {
    return this.output();
  }

  /** A ws:// URL for `userId` and `context`. */
  async url(userId: string, context: string): Promise<string> {
    return `ws://127.0.0.1:${this.port}/ws?token=${await signUserToken(TEST_SECRET, userId)}&context=${context}`;
  }

  /** Resident set size of the app process, bytes (Linux). */
  rssBytes(): number {
    const kib = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.child.pid}/status`, 'utf8'))?.[1];
    return Number(kib) * 1024;
  }

  /** One sample of a metric (no labels) from `GET /metrics`; 0 when absent. */
  async metric(name: string): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${this.port}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line ? Number(line.split(' ')[1]) : 0;
  }

  /** Whether the process is still running. */
  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}
