import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { WS_MANAGER_OPTIONS, type ResolvedWsManagerOptions } from '../src/index.js';
import { createExampleApp } from './bootstrap.js';
import { signUserToken } from './jwt-identity.js';

async function bootstrap(): Promise<void> {
  const app = await createExampleApp();
  // SIGTERM: close every socket with 1001, then exit 0 (not by re-raising the signal).
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  const config = app.get(ConfigService);
  const options = app.get<ResolvedWsManagerOptions>(WS_MANAGER_OPTIONS);
  await app.listen(config.getOrThrow<number>('PORT'));
  const url = new URL(await app.getUrl());
  const host = url.hostname === '[::1]' || url.hostname === '::' ? 'localhost' : url.hostname;
  const logger = new Logger('ExampleApp');
  logger.log(`listening on http://${host}:${url.port} (WebSocket path ${options.path}, registry ${typeof options.registry === 'string' ? options.registry : 'custom'}, node ${options.nodeId})`);
  if (config.get<boolean>('WS_JWT_SECRET_GENERATED')) {
    const token = await signUserToken(config.getOrThrow<string>('WS_JWT_SECRET'), 'dev-user');
    logger.log('WS_JWT_SECRET is not set: using a random secret for this run. Dev token for user "dev-user":');
    logger.log(token);
    logger.log(`connect: ws://${host}:${url.port}${options.path}?token=${token}&context=main`);
    logger.log(`or open http://${host}:${url.port}/client?token=${token}&context=main in a browser`);
  }
}

bootstrap().catch((error: unknown) => {
  // Invalid configuration and port clashes end here: one clear line, non-zero exit.
  new Logger('ExampleApp').error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
