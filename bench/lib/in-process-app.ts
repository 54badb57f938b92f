/**
 * The module built in-process as a host application would (ScheduleModule.forRoot() plus
 * WebSocketManagerModule.forRoot()), for the scenarios that cannot use real sockets: a million
 * managers cannot each hold a socket, so their connections are {@link FakeSocket}s.
 */
import 'reflect-metadata';
import { Module, type INestApplicationContext, type ModuleMetadata } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import type { WebSocket } from 'ws';
import { WebSocketManagerModule, type WsManagerOptions } from '../../src/index.js';

/** Never fires during a run: the benchmark calls the sweep itself. */
const NEVER = '0 0 0 1 1 *';

export async function createBenchApp(options: WsManagerOptions, imports: NonNullable<ModuleMetadata['imports']> = []): Promise<INestApplicationContext> {
  class BenchModule {}
  Module({ imports: [ScheduleModule.forRoot(), WebSocketManagerModule.forRoot({ cleanupCron: NEVER, ...options }), ...imports] })(BenchModule);
  const app = await NestFactory.createApplicationContext(BenchModule, { logger: false, abortOnError: false });
  await app.init();
  return app;
}

const OPEN = 1;
const CLOSED = 3;

/**
 * The part of a `ws` socket the module touches (readyState, ping, pong listener, send, close,
 * terminate). With `answerPings`, a ping is answered by a pong on the next turn of the loop.
 */
export class FakeSocket {
  readyState = OPEN;
  private pongListener?: (data: Buffer) => void;

  constructor(private readonly answerPings = false) {}

  /** Typed as the socket the module expects. */
  get asSocket(): WebSocket {
    return this as unknown as WebSocket;
  }

  on(event: string, listener: (data: Buffer) => void): this {
    if (event === 'pong') this.pongListener = listener;
    return this;
  }

  once(): this {
    return this;
  }

  /** Answers with the ping's own payload, as a `ws` peer does (the module counts only that echo). */
  ping(data: Buffer = Buffer.alloc(0)): void {
    const listener = this.pongListener;
    if (this.answerPings && listener) setImmediate(() => listener.call(this, data));
  }

  send(): void {}

  close(): void {
    this.readyState = CLOSED;
  }

  terminate(): void {
    this.readyState = CLOSED;
  }

  /** Makes this socket dead as a dropped peer's would be. */
  kill(): void {
    this.readyState = CLOSED;
  }
}

/** Serves `{cmd:'run', ...}` once over IPC with `run`'s result, then exits. */
export function serveOnce(run: (message: Record<string, unknown>) => Promise<Record<string, unknown>>): void {
  process.on('message', (message: Record<string, unknown> & { id: number }) => {
    run(message).then(
      (result) => process.send?.({ ...result, id: message.id }, () => process.exit(0)),
      (error: unknown) => process.send?.({ id: message.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }, () => process.exit(1)),
    );
  });
  process.on('disconnect', () => process.exit(0));
}
