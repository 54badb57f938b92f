import { Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { ScheduleModule } from '@nestjs/schedule';
import { WebSocketManagerAdminModule, WebSocketManagerModule, WS_ENV_VARIABLES, wsManagerOptionsFromEnv } from '../src/index.js';
import { WebSocketManagerHealthModule } from '../src/terminus.js';
import { AppGateway } from './app.gateway.js';
import { ClientPageController } from './client-page.controller.js';
import { validateAppEnv } from './app-config.js';
import { jwtIdentityResolver } from './jwt-identity.js';
import { NotifyController } from './notify.controller.js';

/**
 * The example application: every setting from the environment and an optional `.env`;
 * `AppModule.forRoot(env)` reads `env` instead (tests, the demo and the benchmark).
 */
@Module({})
export class AppModule {
  static async forRoot(env?: Record<string, string | undefined>): Promise<DynamicModule> {
    // Awaited here so that an invalid setting rejects app creation instead of escaping unhandled.
    const config = await (env
      ? ConfigModule.forRoot({ isGlobal: true, cache: true, ignoreEnvFile: true, ignoreEnvVars: true, skipProcessEnv: true, load: [() => validateAppEnv(env)] })
      : ConfigModule.forRoot({ isGlobal: true, cache: true, validate: validateAppEnv }));
    return {
      module: AppModule,
      imports: [
        config,
        ScheduleModule.forRoot(),
        WebSocketManagerModule.forRootAsync({
          // The admin and health modules use its services.
          isGlobal: true,
          inject: [ConfigService],
          useFactory: (settings: ConfigService) => ({
            ...wsManagerOptionsFromEnv(
              Object.fromEntries(Object.keys(WS_ENV_VARIABLES).map((name) => [name, settings.get<string>(name)])),
            ),
            identityResolver: jwtIdentityResolver(settings.getOrThrow<string>('WS_JWT_SECRET')),
          }),
        }),
        // GET /health (Terminus), GET /metrics and the admin API + dashboard under /admin
        // (404 while WS_ADMIN_TOKEN is unset).
        WebSocketManagerHealthModule.forRoot(),
        WebSocketManagerAdminModule.forRootAsync({
          inject: [ConfigService],
          useFactory: (settings: ConfigService) => ({ token: settings.get<string>('WS_ADMIN_TOKEN') }),
        }),
      ],
      controllers: [ClientPageController, NotifyController],
      providers: [AppGateway],
    };
  }
}
