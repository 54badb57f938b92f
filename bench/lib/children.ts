import { fork, type ChildProcess, type ForkOptions } from 'node:child_process';
import { createInterface } from 'node:readline';

/** Every child this process started and that has not exited yet. */
const live = new Set<ChildProcess>();
let handlersInstalled = false;

/** Kills every child still running (SIGKILL: the benchmark never leaves load behind). */
export function killAllChildren(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

/** Kills the children on exit, on SIGINT/SIGTERM and on a crash of this process. */
export function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killAllChildren);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping children\n`);
      killAllChildren();
      process.exit(130);
    });
  }
}

/** A forked child with an IPC request/response channel and its recent output kept for errors. */
export class Child {
  readonly process: ChildProcess;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private readonly lineWaiters: { pattern: RegExp; resolve: () => void }[] = [];
  private readonly tail: string[] = [];
  private seq = 0;
  /** Lines the child printed (a chatty logger costs CPU: worth knowing). */
  outputLines = 0;
  readonly exited: Promise<number | null>;

  constructor(modulePath: string, args: string[], options: ForkOptions & { label: string }) {
    this.process = fork(modulePath, args, { ...options, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    live.add(this.process);
    this.exited = new Promise((resolve) => {
      this.process.once('exit', (code) => {
        live.delete(this.process);
        for (const { reject, timer } of this.pending.values()) {
          clearTimeout(timer);
          reject(new Error(`${options.label} exited (code ${code}) before answering; last output:\n${this.recentOutput()}`));
        }
        this.pending.clear();
        resolve(code);
      });
    });
    this.process.on('message', (message: { id?: number; error?: string }) => {
      const waiter = message.id === undefined ? undefined : this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id!);
      clearTimeout(waiter.timer);
      if (message.error) waiter.reject(new Error(`${options.label}: ${message.error}`));
      else waiter.resolve(message);
    });
    for (const stream of [this.process.stdout, this.process.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => this.onLine(line));
    }
  }

  get pid(): number {
    return this.process.pid ?? -1;
  }

  /** Sends `{id, ...message}` and resolves with the child's `{id, ...}` answer. */
  request<T>(message: Record<string, unknown>, timeoutMs: number): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no answer to ${String(message.cmd)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.process.send({ ...message, id });
    });
  }

  /** Resolves when a line matching `pattern` is printed; rejects on timeout or exit. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; output:\n${this.recentOutput()}`)), timeoutMs);
      this.lineWaiters.push({ pattern, resolve: () => (clearTimeout(timer), resolve()) });
      void this.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`child exited (code ${code}) while starting; output:\n${this.recentOutput()}`));
      });
    });
  }

  recentOutput(): string {
    return this.tail.join('\n');
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 2000): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  private onLine(line: string): void {
    this.outputLines++;
    this.tail.push(line);
    if (this.tail.length > 40) this.tail.shift();
    for (let i = this.lineWaiters.length - 1; i >= 0; i--) {
      const waiter = this.lineWaiters[i]!;
      if (waiter.pattern.test(line)) {
        this.lineWaiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }
}
