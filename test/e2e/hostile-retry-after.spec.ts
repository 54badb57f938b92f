import { afterEach, describe, expect, it } from 'vitest';
import { startExampleApp, type RunningApp } from '../support/app-harness.js';
import { waitFor } from '../support/socket-harness.js';

// The refusal's hint must say what can actually free a slot, or that nothing will.
// (Needs the factory to compute retryAfterMs with `retryAfter()` from src/cleanup/retry-after.ts
// and the gateway to send `error.toPayload()`.)
describe('retryAfterMs in MANAGER_LIMIT_REACHED', () => {
  let running: RunningApp | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it('is null with reason sessions_in_use when every session is connected and in use', async () => {
    running = await startExampleApp({ WS_MAX_MANAGERS_PER_USER: '2' });
    for (const context of ['a', 'b']) {
      const { client } = await running.connect('u1', context);
      client.send('echo', context);
      await client.next('echo');
    }
    const refused = await running.open('u1', 'c');
    const error = await refused.next('error');
    expect(error.data).toMatchObject({ code: 'MANAGER_LIMIT_REACHED', limit: 2, active: 2, retryAfterMs: null, reason: 'sessions_in_use' });
    expect(await refused.closed).toEqual({ code: 4029, reason: 'MANAGER_LIMIT_REACHED' });
  });

  it('is the resume-window expiry of a detached session the allowed level may not take', async () => {
    const resumeWindowMs = 60_000;
    running = await startExampleApp({ WS_MAX_MANAGERS_PER_USER: '2', WS_MAX_CLEANUP_LEVEL: 'moderate', WS_RESUME_WINDOW_MS: String(resumeWindowMs) });
    await running.connect('u1', 'a');
    const { client: leaving, session } = await running.connect('u1', 'b');
    leaving.ws.close();
    await leaving.closed;
    const manager = running.factory.get(session.data.managerId)!;
    await waitFor(() => manager.detachedAt !== null, 5000, 'detach');
    const expiresAt = manager.detachedAt! + resumeWindowMs;

    const before = Date.now();
    const refused = await running.open('u1', 'c');
    const { data } = await refused.next('error');
    const after = Date.now();
    expect(data).toMatchObject({ code: 'MANAGER_LIMIT_REACHED', reason: 'resume_window_expiry' });
    // Computed between `before` and `after`: the expiry seen from that moment, rounded up.
    expect(data.retryAfterMs).toBeGreaterThanOrEqual(expiresAt - after);
    expect(data.retryAfterMs).toBeLessThanOrEqual(expiresAt - before + 1);
  });
});
