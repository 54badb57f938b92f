import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./hostile-client-process.mjs', import.meta.url));

/** A misbehaving client in its own process (see hostile-client-process.mjs), and what it printed. */
export class HostileClientProcess {
  private out = '';

  private constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (chunk: Buffer) => (this.out += String(chunk)));
  }

  /** Starts `mode` against `url`. */
  static start(mode: 'receive-only' | 'never-read' | 'pongs-only' | 'flood', url: string, options: Record<string, unknown> = {}): HostileClientProcess {
    return new HostileClientProcess(spawn(process.execPath, [SCRIPT, mode, url, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] }));
  }

  /** Every line printed so far. */
  get lines(): string[] {
    return this.out.split('\n').filter(Boolean);
  }

  /** Lines starting with `prefix`. */
  linesOf(prefix: string): string[] {
    return this.lines.filter((l) => l.startsWith(`${prefix} `));
  }

  /** Resolves when `count` lines start with `prefix` (rejects after `timeoutMs` or if the process exits). */
  async waitFor(prefix: string, count = 1, timeoutMs = 15_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.linesOf(prefix);
      if (found.length >= count) return found;
      if (Date.now() > deadline) throw new Error(`no ${count}× "${prefix}" within ${timeoutMs} ms; printed: ${this.out.slice(-2000)}`);
      if (this.child.exitCode !== null) throw new Error(`client exited ${this.child.exitCode}; printed: ${this.out.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  kill(): void {
    this.child.kill('SIGCONT');
    this.child.kill('SIGKILL');
  }
}
