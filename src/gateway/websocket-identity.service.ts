import type { IncomingMessage } from 'node:http';
import { Inject, Injectable, type OnApplicationBootstrap, type Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { WS_MANAGER_OPTIONS } from '../config/ws-manager.constants.js';
import type { ResolvedWsManagerOptions } from '../config/ws-manager.options.js';
import type { Identity, IdentityResolver, IdentityResolverService, ResolvedIdentity } from './identity-resolver.interface.js';

const MAX_LIMIT = 1_000_000;

/** A class with `resolve(request)` (an {@link IdentityResolverService}), as opposed to a bare function. */
export function isIdentityResolverClass(value: unknown): value is Type<IdentityResolverService> {
  return typeof value === 'function' && typeof (value as { prototype?: { resolve?: unknown } }).prototype?.resolve === 'function';
}

/**
 * Runs the `identityResolver` option on each upgrade request, whatever its form (function,
 * injectable class, token), and checks what it returns. A class or token is looked up once at
 * bootstrap, so a missing provider fails start-up instead of the first handshake.
 */
@Injectable()
export class WebSocketIdentityService implements OnApplicationBootstrap {
  private resolver: IdentityResolver | null | undefined;

  constructor(
    @Inject(WS_MANAGER_OPTIONS) private readonly options: ResolvedWsManagerOptions,
    private readonly moduleRef: ModuleRef,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.resolver ??= await this.load();
  }

  /**
   * The identity of an upgrade request: `null` refuses it (401). Throws when the resolver returns
   * something that is neither (a bug in the host application: the handshake answers 500).
   */
  async resolve(request: IncomingMessage): Promise<ResolvedIdentity | null> {
    this.resolver ??= await this.load();
    if (!this.resolver) return null;
    return normalizeIdentity(await this.resolver(request));
  }

  private async load(): Promise<IdentityResolver | null> {
    const option = this.options.identityResolver;
    if (option === undefined) return null;
    if (typeof option === 'function' && !isIdentityResolverClass(option)) return option as IdentityResolver;
    const service = await this.instanceOf(option);
    if (typeof service?.resolve !== 'function') {
      throw new TypeError(`identityResolver ${describe(option)} provides no resolve(request) method`);
    }
    return (request) => service.resolve(request);
  }

  private async instanceOf(token: unknown): Promise<IdentityResolverService | undefined> {
    try {
      // The application's own instance when it provides one (its dependencies, its scope).
      return this.moduleRef.get<IdentityResolverService>(token as string, { strict: false });
    } catch (error) {
      if (!isIdentityResolverClass(token)) throw new Error(`identityResolver ${describe(token)}: no provider found`, { cause: error });
      // Otherwise made here: it can inject what forRootAsync({ imports }) and global modules export.
      return this.moduleRef.create(token);
    }
  }
}

/** Checks and normalises a resolver's answer. */
export function normalizeIdentity(identity: Identity | null | undefined): ResolvedIdentity | null {
  if (identity === null || identity === undefined || identity === '') return null;
  if (typeof identity === 'string') return { userId: identity };
  if (typeof identity !== 'object' || typeof identity.userId !== 'string') {
    throw new TypeError('identityResolver must return a user id, { userId, limit? } or null');
  }
  if (identity.userId === '') return null;
  const { userId, limit } = identity;
  if (limit === undefined) return { userId };
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new RangeError(`identityResolver returned limit ${String(limit)} for a user: must be a whole number from 1 to ${MAX_LIMIT}`);
  }
  return { userId, limit };
}

function describe(token: unknown): string {
  return typeof token === 'function' ? token.name : String(token);
}
