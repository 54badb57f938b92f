import { createHash, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, NotFoundException, Optional, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { WS_ADMIN_HOST_GUARD, WS_ADMIN_OPTIONS } from './admin.constants.js';
import type { ResolvedAdminOptions } from './admin.options.js';

/** The request fields the guard reads (Express and Fastify both have them). */
interface HeaderCarrier {
  headers: Record<string, string | string[] | undefined>;
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/** The bearer token of a request, or `null`. */
export function bearerToken(request: HeaderCarrier): string | null {
  const header = request.headers.authorization;
  const value = Array.isArray(header) ? header[0] : header;
  const match = value === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(value);
  return match?.[1] ?? null;
}

/**
 * Guards every admin API route. With a host guard (`guard` extra) it defers to it. Otherwise
 * `Authorization: Bearer <token>`: no token configured → 404 (the admin API does not exist), a
 * missing or wrong token → 401. Tokens are compared as SHA-256 digests with `timingSafeEqual`,
 * so the time taken reveals neither the token's content nor its length.
 */
@Injectable()
export class AdminAccessGuard implements CanActivate {
  constructor(
    @Inject(WS_ADMIN_OPTIONS) private readonly options: ResolvedAdminOptions,
    @Optional() @Inject(WS_ADMIN_HOST_GUARD) private readonly hostGuard?: CanActivate,
  ) {}

  /** Whether the admin surface exists at all (a token or a host guard is configured). */
  get enabled(): boolean {
    return this.hostGuard !== undefined || this.options.token !== undefined;
  }

  canActivate(context: ExecutionContext): ReturnType<CanActivate['canActivate']> {
    if (this.hostGuard) return this.hostGuard.canActivate(context);
    const expected = this.options.token;
    if (expected === undefined) throw new NotFoundException();
    const presented = bearerToken(context.switchToHttp().getRequest<HeaderCarrier>());
    if (presented === null || !timingSafeEqual(digest(presented), digest(expected))) {
      throw new UnauthorizedException('a valid admin bearer token is required');
    }
    return true;
  }
}

/**
 * Guards the dashboard's static files: they hold no data, so they are public whenever the admin
 * surface exists, and 404 when it does not (no token, no host guard).
 */
@Injectable()
export class AdminEnabledGuard implements CanActivate {
  constructor(private readonly access: AdminAccessGuard) {}

  canActivate(): boolean {
    if (!this.access.enabled) throw new NotFoundException();
    return true;
  }
}
