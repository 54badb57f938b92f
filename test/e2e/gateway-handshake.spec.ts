import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUserToken } from '../../example/jwt-identity.js';
import { handshakeStatus, startExampleApp, type RunningApp } from '../support/app-harness.js';

describe('WebSocketManagerAdapter handshake', () => {
  let running: RunningApp;

  beforeAll(async () => {
    running = await startExampleApp({ WS_ALLOWED_ORIGINS: 'https://app.example,https://admin.example' });
  });
  afterAll(() => running.close());

  const origin = { origin: 'https://app.example' };

  it('refuses a missing token with 401 and creates no manager', async () => {
    expect(await handshakeStatus(running.url({ context: 'main' }), origin)).toBe(401);
  });

  it('refuses a token signed with another secret with 401', async () => {
    const forged = await signUserToken('another-secret-0123456789', 'mallory');
    expect(await handshakeStatus(running.url({ token: forged }), origin)).toBe(401);
    expect(await running.registry.countByUser('mallory')).toBe(0);
  });

  it('refuses a malformed token with 401', async () => {
    expect(await handshakeStatus(running.url({ token: 'not.a.jwt' }), origin)).toBe(401);
  });

  it('refuses an expired token with 401 and creates no manager', async () => {
    const expired = await running.token('late', Math.floor(Date.now() / 1000) - 60);
    expect(await handshakeStatus(running.url({ token: expired }), origin)).toBe(401);
    expect(await running.registry.countByUser('late')).toBe(0);
  });

  it('refuses an Origin outside WS_ALLOWED_ORIGINS with 403 and creates no manager', async () => {
    const token = await running.token('eve');
    expect(await handshakeStatus(running.url({ token }), { origin: 'https://evil.example' })).toBe(403);
    expect(await handshakeStatus(running.url({ token }), {})).toBe(403);
    expect(await running.registry.countByUser('eve')).toBe(0);
  });

  it('refuses a malformed context with 400', async () => {
    const token = await running.token('eve');
    expect(await handshakeStatus(running.url({ token, context: 'has space' }), origin)).toBe(400);
    expect(await handshakeStatus(running.url({ token, context: 'x'.repeat(65) }), origin)).toBe(400);
    expect(await running.registry.countByUser('eve')).toBe(0);
  });

  it('admits a valid token from the query or an Authorization header, for an allowed Origin', async () => {
    const token = await running.token('ann');
    expect(await handshakeStatus(running.url({ token, context: 'q' }), origin)).toBe(101);
    expect(await handshakeStatus(running.url({ context: 'h' }), { ...origin, headers: { authorization: `Bearer ${token}` } })).toBe(101);
  });

  it('takes the user from the token, never from a client field', async () => {
    const token = await running.token('real-user');
    const url = running.url({ token, context: 'main' }) + '&userId=someone-else&sub=someone-else';
    expect(await handshakeStatus(url, origin)).toBe(101);
    expect(await running.registry.countByUser('someone-else')).toBe(0);
  });
});
