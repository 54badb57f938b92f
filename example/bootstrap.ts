import 'reflect-metadata';
import type { Server } from 'node:http';
import type { INestApplication, LoggerService, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { WebSocketManagerAdapter } from '../src/index.js';
import { AppModule } from './app.module.js';

/** How to build the example application. */
export interface ExampleAppOptions {
  /** Settings instead of `process.env` + `.env`. */
  env?: Record<string, string | undefined>;
  /** Nest logger setting. @default default Nest logger */
  logger?: LoggerService | LogLevel[] | false;
  /** HTTP server timeouts. @default {@link EXAMPLE_HTTP_TIMEOUTS} */
  http?: Partial<HttpTimeouts>;
}

/** Deliberate HTTP timeouts of the example app (Node's defaults hold a slow client for 60 s or more). */
export interface HttpTimeouts {
  /** Time to receive a request's headers (a WebSocket upgrade is one): past it, 408 and close. */
  headersTimeoutMs: number;
  /** Time to receive a whole request, body included. */
  requestTimeoutMs: number;
  /** How often Node checks the two above; they cannot fire sooner than this. */
  checkIntervalMs: number;
}

/**
 * A client that sends its upgrade headers byte by byte is cut after 10 s instead of Node's
 * 60 s; a whole request may take 30 s; the timeouts are checked every second.
 */
export const EXAMPLE_HTTP_TIMEOUTS: HttpTimeouts = { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, checkIntervalMs: 1_000 };

/** Builds the example application (not listening yet) with the module's WebSocket adapter. */
export async function createExampleApp(options: ExampleAppOptions = {}): Promise<INestApplication> {
  const app = await NestFactory.create(await AppModule.forRoot(options.env), { logger: options.logger, abortOnError: false });
  app.useWebSocketAdapter(new WebSocketManagerAdapter(app));
  const timeouts = { ...EXAMPLE_HTTP_TIMEOUTS, ...options.http };
  const server = app.getHttpServer() as Server;
  server.headersTimeout = timeouts.headersTimeoutMs;
  server.requestTimeout = timeouts.requestTimeoutMs;
  // Read by Node when the server starts listening (it is a createServer option that Nest's
  // adapter does not pass, and @types/node does not list as a property): set before app.listen().
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = timeouts.checkIntervalMs;
  return app;
}
