import { createHash, timingSafeEqual } from 'node:crypto';
import { Injectable, NotFoundException, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';

/** The request fields the guard reads (Express and Fastify both have them). */
interface HeaderCarrier {
  headers: Record<string, string | string[] | undefined>;
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * Guards the admin API with `Authorization: Bearer <WS_ADMIN_TOKEN>`. No token configured: every
 * admin route answers 404, as if it did not exist. A missing or wrong token: 401. The tokens are
 * compared as SHA-256 digests with `timingSafeEqual`, so the time taken reveals neither the
 * token's content nor its length. Subclass and override the protected hooks to change either.
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  constructor(private readonly config: ConfigService) {}

  canActivate(context: ExecutionContext): boolean {
    const expected = this.expectedToken();
    if (!expected) throw new NotFoundException();
    const presented = this.presentedToken(context.switchToHttp().getRequest<HeaderCarrier>());
    if (presented === null || !timingSafeEqual(digest(presented), digest(expected))) {
      throw new UnauthorizedException('a valid admin bearer token is required');
    }
    return true;
  }

  /** The configured token; empty or `undefined` disables the admin API. */
  protected expectedToken(): string | undefined {
    return this.config.get<string>('WS_ADMIN_TOKEN');
  }

  /** The bearer token of the request, or `null`. */
  protected presentedToken(request: HeaderCarrier): string | null {
    const header = request.headers.authorization;
    const value = Array.isArray(header) ? header[0] : header;
    const match = value === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(value);
    return match?.[1] ?? null;
  }
}
