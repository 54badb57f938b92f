import type { IncomingMessage } from 'node:http';
import type { InjectionToken } from '@nestjs/common';

/** Who an upgrade request belongs to, optionally with that user's own session limit. */
export interface ResolvedIdentity {
  /** Authenticated user id (a JWT `sub`, a session's user): never a client-supplied field. */
  userId: string;
  /**
   * This user's own limit of managers (a plan: free 3, pro 20); omitted: `maxManagersPerUser`.
   * A whole number from 1 to 1,000,000.
   */
  limit?: number;
}

/** What an identity step returns: a user id, `{ userId, limit }`, or `null` to refuse with HTTP 401. */
export type Identity = string | ResolvedIdentity;

/**
 * Resolves the authenticated user of a WebSocket upgrade request, before any socket exists.
 * Return the user id (or `{ userId, limit }`), or `null` to refuse the handshake with HTTP 401.
 * Never trust a client-supplied user field: derive the id from verified credentials.
 */
export type IdentityResolver = (request: IncomingMessage) => Identity | null | Promise<Identity | null>;

/**
 * An injectable identity step: a class with `resolve(request)`, so it can inject `JwtService`
 * or any other provider. Give the class (or a token that provides one) as `identityResolver`.
 */
export interface IdentityResolverService {
  /** Same contract as {@link IdentityResolver}. */
  resolve(request: IncomingMessage): Identity | null | Promise<Identity | null>;
}

/**
 * The `identityResolver` option: a function, an {@link IdentityResolverService} class (taken from
 * the application if provided there, else instantiated in the module's injector, which sees
 * `forRootAsync({ imports })`), or an injection token that provides one.
 */
export type IdentityResolverOption = IdentityResolver | InjectionToken<IdentityResolverService>;
