import type { CanActivate, Type } from '@nestjs/common';
import { InvalidOptionsError, type InvalidOptionIssue } from '../errors/invalid-options.error.js';

/** Runtime options of {@link WebSocketManagerAdminModule} (`forRoot` or `forRootAsync`'s factory). */
export interface WebSocketManagerAdminOptions {
  /**
   * Bearer token of the admin API (`Authorization: Bearer <token>`), compared in constant time.
   * Unset or empty, and no `guard`: every admin route (API and dashboard) answers 404.
   * @default undefined
   */
  token?: string;
  /** How often the dashboard's aggregates are pushed on the event stream, in ms (min 250). @default 1000 */
  pushIntervalMs?: number;
  /** Cleanup runs and alarms kept for the dashboard, each. @default 20 */
  historySize?: number;
}

/** {@link WebSocketManagerAdminOptions} with defaults applied. */
export type ResolvedAdminOptions = Required<Omit<WebSocketManagerAdminOptions, 'token'>> & { token: string | undefined };

/** Static (module-definition time) settings of {@link WebSocketManagerAdminModule}, beside the options. */
export interface WebSocketManagerAdminExtras {
  /** Route prefix of the admin API and the dashboard (`<path>/users`, `<path>/`). @default 'admin' */
  path?: string;
  /** Path of the Prometheus scrape endpoint (not behind the admin guard); `false`: not served. @default 'metrics' */
  metricsPath?: string | false;
  /**
   * A guard class of the host that replaces the bearer token on every admin route (a session
   * cookie, an SSO header, a role check). Its dependencies must be resolvable in the admin module
   * (global providers or `imports`). The dashboard's static files stay public: they hold no data.
   * @default undefined
   */
  guard?: Type<CanActivate>;
  /** Register the module globally. @default false */
  isGlobal?: boolean;
}

/** The one source of the admin module's defaults. */
export const ADMIN_DEFAULTS = { path: 'admin', metricsPath: 'metrics', pushIntervalMs: 1000, historySize: 20 } as const;

/** Applies the defaults and validates; a bad value throws {@link InvalidOptionsError}. */
export function resolveAdminOptions(options: WebSocketManagerAdminOptions = {}): ResolvedAdminOptions {
  const issues: InvalidOptionIssue[] = [];
  const { token, pushIntervalMs = ADMIN_DEFAULTS.pushIntervalMs, historySize = ADMIN_DEFAULTS.historySize } = options;
  if (token !== undefined && (typeof token !== 'string' || !/^[\x21-\x7e]*$/.test(token))) {
    issues.push({ name: 'admin.token', value: token, rule: 'must be printable ASCII without spaces (it travels in an Authorization header)' });
  }
  if (!Number.isInteger(pushIntervalMs) || pushIntervalMs < 250) {
    issues.push({ name: 'admin.pushIntervalMs', value: pushIntervalMs, rule: 'must be a whole number ≥ 250' });
  }
  if (!Number.isInteger(historySize) || historySize < 1 || historySize > 1000) {
    issues.push({ name: 'admin.historySize', value: historySize, rule: 'must be a whole number from 1 to 1000' });
  }
  if (issues.length > 0) throw new InvalidOptionsError(issues);
  return { token: token || undefined, pushIntervalMs, historySize };
}
