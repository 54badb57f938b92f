import { Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { ScheduleModule } from '@nestjs/schedule';
import { WebSocketManagerModule, WS_ENV_VARIABLES, wsManagerOptionsFromEnv } from '../src/index.js';
import { AppGateway } from './app.gateway.js';
import { ClientPageController } from './client-page.controller.js';
import { validateAppEnv } from './app-config.js';
import { HTTP_CONTROLLERS, HTTP_IMPORTS, HTTP_PROVIDERS } from './http/index.js';
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
          inject: [ConfigService],
          useFactory: (settings: ConfigService) => ({
            ...wsManagerOptionsFromEnv(
              Object.fromEntries(Object.keys(WS_ENV_VARIABLES).map((name) => [name, settings.get<string>(name)])),
            ),
            identityResolver: jwtIdentityResolver(settings.getOrThrow<string>('WS_JWT_SECRET')),
          }),
        }),
        ...HTTP_IMPORTS,
      ],
      controllers: [...HTTP_CONTROLLERS, ClientPageController, NotifyController],
      providers: [AppGateway, ...HTTP_PROVIDERS],
    };
  }
}
