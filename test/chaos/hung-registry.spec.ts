import type { INestApplication } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { AppGateway } from '../../example/app.gateway.js';
import { jwtIdentityResolver, signUserToken } from '../../example/jwt-identity.js';
import { InMemoryManagerRegistry, WebSocketManagerAdapter, WebSocketManagerModule, type ManagerRegistry } from '../../src/index.js';
import { TEST_SECRET, TestClient } from '../support/app-harness.js';
import { sleep } from '../support/cluster-harness.js';

/** Generous bound on the module's own timeout for a registry call (never a timing assertion). */
const BOUND_MS = 30_000;

/** Registry calls an admission may make; the first one after arming never answers. */
const HANGABLE = new Set<PropertyKey>(['admit', 'get', 'findByContext', 'listByUser', 'countByUser', 'remove', 'update']);

/**
 * An in-memory registry whose next call on the admission path never answers, as a Redis call
 * lost in a half-open TCP connection would (the real thing cannot be made to hang for exactly
 * one call). Whichever call the admission makes first hangs, so the case does not depend on the
 * order of the module's registry calls.
 */
function hangingRegistry(): { registry: ManagerRegistry; arm(): void } {
  let armed = false;
  const target = new InMemoryManagerRegistry();
  const registry = new Proxy(target, {
    get(object, property, receiver) {
      const value: unknown = Reflect.get(object, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (armed && HANGABLE.has(property)) {
          armed = false;
          return new Promise(() => undefined);
        }
        return (value as (...a: unknown[]) => unknown).apply(object, args);
      };
    },
  });
  return { registry, arm: () => (armed = true) };
}

/** Resolves with `value` or with `'timed out'` after {@link BOUND_MS}. */
function within<T>(promise: Promise<T>): Promise<T | 'timed out'> {
  return Promise.race([promise, sleep(BOUND_MS).then(() => 'timed out' as const)]);
}

// On today's main (061a13f) this FAILS: the hung call holds the user's lock forever: the first
// client never gets a close (no 1013) and the user's later admission never gets a `session`.
describe('a registry call that never answers', () => {
  let app: INestApplication | undefined;
  const sockets: WebSocket[] = [];
  afterEach(async () => {
    for (const ws of sockets.splice(0)) ws.terminate();
    await app?.close();
  });

  it('answers that admission with 1013 after a bounded wait and does not wedge the user', { timeout: 3 * BOUND_MS }, async () => {
    const { registry, arm } = hangingRegistry();
    const module = await Test.createTestingModule({
      imports: [ScheduleModule.forRoot(), WebSocketManagerModule.forRoot({ registry, identityResolver: jwtIdentityResolver(TEST_SECRET), cleanupCron: '0 0 0 1 1 *' })],
      providers: [AppGateway],
    }).compile();
    app = module.createNestApplication({ logger: false });
    app.useWebSocketAdapter(new WebSocketManagerAdapter(app));
    await app.listen(0, '127.0.0.1');
    const port = Number(new URL(await app.getUrl()).port);
    const token = await signUserToken(TEST_SECRET, 'u1');
    const client = (context: string) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${token}&context=${context}`);
      sockets.push(ws);
      return new TestClient(ws);
    };

    arm();
    const hung = client('first');
    expect.soft(await within(hung.closed)).toEqual({ code: 1013, reason: 'REGISTRY_UNAVAILABLE' });

    const later = client('second');
    const session = await within(later.next('session', BOUND_MS).catch((error: unknown) => String(error)));
    expect(session).toMatchObject({ event: 'session', data: { context: 'second' } });
  });
});
