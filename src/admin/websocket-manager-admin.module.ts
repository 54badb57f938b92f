import { ConfigurableModuleBuilder, Controller, Module, type DynamicModule, type Provider, type Type } from '@nestjs/common';
import { AdminAccessGuard, AdminEnabledGuard } from './admin-access.guard.js';
import { AdminApiController } from './admin-api.controller.js';
import { AdminClusterReader } from './admin-cluster.reader.js';
import { AdminDashboardController } from './admin-dashboard.controller.js';
import { AdminMetricsController } from './admin-metrics.controller.js';
import { AdminOverviewService } from './admin-overview.service.js';
import { WS_ADMIN_HOST_GUARD, WS_ADMIN_OPTIONS } from './admin.constants.js';
import { ADMIN_DEFAULTS, resolveAdminOptions, type WebSocketManagerAdminExtras, type WebSocketManagerAdminOptions } from './admin.options.js';
import { UserCountIndex } from './user-count.index.js';

/** A controller class mounted at `path`: a subclass, so that two mounts never share route metadata. */
function mount<T extends Type>(base: T, path: string): T {
  const mounted = class extends base {};
  Object.defineProperty(mounted, 'name', { value: base.name });
  Controller(path)(mounted);
  return mounted;
}

const trimSlashes = (path: string) => path.replace(/^\/+|\/+$/g, '');

const { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN, OPTIONS_TYPE, ASYNC_OPTIONS_TYPE } = new ConfigurableModuleBuilder<WebSocketManagerAdminOptions>({
  moduleName: 'WebSocketManagerAdmin',
})
  .setClassMethodName('forRoot')
  .setExtras<WebSocketManagerAdminExtras>(
    { path: ADMIN_DEFAULTS.path, metricsPath: ADMIN_DEFAULTS.metricsPath, isGlobal: false },
    (definition: DynamicModule, extras: WebSocketManagerAdminExtras): DynamicModule => {
      const path = trimSlashes(extras.path ?? ADMIN_DEFAULTS.path);
      const metricsPath = extras.metricsPath ?? ADMIN_DEFAULTS.metricsPath;
      const providers: Provider[] = [
        ...(definition.providers ?? []),
        { provide: WS_ADMIN_OPTIONS, inject: [MODULE_OPTIONS_TOKEN], useFactory: (options: WebSocketManagerAdminOptions) => resolveAdminOptions(options) },
        AdminAccessGuard,
        AdminEnabledGuard,
        AdminClusterReader,
        UserCountIndex,
        AdminOverviewService,
      ];
      if (extras.guard) providers.push(extras.guard, { provide: WS_ADMIN_HOST_GUARD, useExisting: extras.guard });
      const controllers: Type[] = [mount(AdminApiController, path), mount(AdminDashboardController, path)];
      if (metricsPath !== false) controllers.push(mount(AdminMetricsController, trimSlashes(metricsPath)));
      // The guard (and what it reads) is exported so that a host's own admin routes can use it.
      const exports: DynamicModule['exports'] = [AdminOverviewService, UserCountIndex, AdminAccessGuard, WS_ADMIN_OPTIONS];
      if (extras.guard) exports.push(WS_ADMIN_HOST_GUARD);
      return { ...definition, global: extras.isGlobal ?? false, providers, controllers, exports };
    },
  )
  .build();

/** Options of {@link WebSocketManagerAdminModule.forRoot}: the runtime options plus the extras. */
export type WebSocketManagerAdminModuleOptions = typeof OPTIONS_TYPE;
/** Options of {@link WebSocketManagerAdminModule.forRootAsync}: `useFactory`/`useClass`/`useExisting`, `imports`, `inject`, plus the extras. */
export type WebSocketManagerAdminModuleAsyncOptions = typeof ASYNC_OPTIONS_TYPE;

/**
 * The opt-in admin surface: the admin API (`<path>/users…`, `<path>/nodes`, `<path>/overview`,
 * `<path>/events`), the live dashboard (`GET <path>`) and the metrics endpoint (`GET /<metricsPath>`).
 * Import it next to `WebSocketManagerModule` registered with `isGlobal: true` (it uses the core
 * module's services):
 * ```ts
 * WebSocketManagerAdminModule.forRoot({ token: process.env.WS_ADMIN_TOKEN, path: 'admin' })
 * WebSocketManagerAdminModule.forRootAsync({ inject: [ConfigService], useFactory: (c) => ({ token: c.get('WS_ADMIN_TOKEN') }) })
 * ```
 * `path`, `metricsPath`, `guard` and `isGlobal` are read when the module is defined (they shape
 * its routes), the rest when its factory resolves.
 */
@Module({})
export class WebSocketManagerAdminModule extends ConfigurableModuleClass {}
