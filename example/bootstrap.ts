import 'reflect-metadata';
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
}

/** Builds the example application (not listening yet) with the module's WebSocket adapter. */
export async function createExampleApp(options: ExampleAppOptions = {}): Promise<INestApplication> {
  const app = await NestFactory.create(await AppModule.forRoot(options.env), { logger: options.logger, abortOnError: false });
  app.useWebSocketAdapter(new WebSocketManagerAdapter(app));
  return app;
}
