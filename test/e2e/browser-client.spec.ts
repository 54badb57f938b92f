import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startExampleApp, type RunningApp } from '../support/app-harness.js';
import { CHROMIUM_ARGS, findChromium } from '../support/chromium.js';

// The README's browser snippet (example/public/client.html, served at GET /client) in a real
// Chromium against the example app.
const lookup = findChromium();

/** Frames the page logged (`HH:MM:SS.mmm ← {json}` lines), parsed. */
async function loggedFrames(page: Page): Promise<{ event: string; data: unknown }[]> {
  const text = (await page.locator('#log').textContent()) ?? '';
  return [...text.matchAll(/← (.*)$/gm)].map((m) => JSON.parse(m[1]!) as { event: string; data: unknown });
}

/** Waits until the page's log contains `text`. */
async function logShows(page: Page, text: string): Promise<void> {
  await page.locator('#log', { hasText: text }).waitFor({ timeout: 10_000 });
}

describe.skipIf(lookup.skipReason !== undefined)(`browser client snippet (Chromium)${lookup.skipReason ? ` — skipped: ${lookup.skipReason}` : ''}`, () => {
  let browser: Browser;
  let running: RunningApp | undefined;
  let openPage: Page | undefined;
  let pageErrors: string[] = [];

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: lookup.executablePath, args: CHROMIUM_ARGS, timeout: 15_000 });
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    await openPage?.close();
    openPage = undefined;
    await running?.close();
    running = undefined;
  });

  async function openClientPage(query: Record<string, string>): Promise<Page> {
    pageErrors = [];
    const page = await browser.newPage({ viewport: { width: 1000, height: 560 } });
    openPage = page;
    page.on('pageerror', (error) => pageErrors.push(error.message));
    const response = await page.goto(`http://127.0.0.1:${running!.port}/client?${new URLSearchParams(query)}`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-type']).toContain('text/html');
    return page;
  }

  it('connects from the page, shows the session frame and the echo reply, and holds one manager for that context', async () => {
    running = await startExampleApp();
    const page = await openClientPage({ token: await running.token('browser-user'), context: 'browser-tab' });

    await logShows(page, '"event":"echo"');
    const frames = await loggedFrames(page);
    expect(frames).toEqual([
      { event: 'session', data: { managerId: expect.any(String), context: 'browser-tab', resumed: false, limit: 20, active: 1, cleanup: null } },
      { event: 'echo', data: 'hello' },
    ]);
    expect(await page.locator('#status').textContent()).toBe('session established');
    expect(pageErrors).toEqual([]);

    const records = await running.registry.listByUser('browser-user');
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ context: 'browser-tab', managerId: (frames[0]!.data as { managerId: string }).managerId, detachedAt: null });
    await page.screenshot({ path: '/tmp/browser-client.png', fullPage: true });
  });

  it('at the per-user limit, shows close 4029 and what it means (retry after retryAfterMs)', async () => {
    running = await startExampleApp({ WS_MAX_MANAGERS_PER_USER: '1', WS_MAX_CLEANUP_LEVEL: 'moderate' });
    const held = await running.connect('browser-user', 'node-session'); // healthy, answers pings
    expect(held.session.event).toBe('session');

    const page = await openClientPage({ token: await running.token('browser-user'), context: 'browser-tab' });
    await logShows(page, 'closed 4029');
    const frames = await loggedFrames(page);
    expect(frames).toEqual([
      { event: 'error', data: { code: 'MANAGER_LIMIT_REACHED', limit: 1, active: 1, retryAfterMs: null, reason: 'sessions_in_use' } },
    ]);
    const retryAfterMs = (frames[0]!.data as { retryAfterMs: number }).retryAfterMs;
    const status = await page.locator('#status').textContent();
    expect(status).toBe(`closed 4029 MANAGER_LIMIT_REACHED: per-user limit reached (1/1 sessions): retry after ${retryAfterMs} ms or close another session`);
    expect(pageErrors).toEqual([]);

    expect(held.client.ws.readyState).toBe(held.client.ws.OPEN);
    const records = await running.registry.listByUser('browser-user');
    expect(records.map((r) => r.context)).toEqual(['node-session']);
    await page.screenshot({ path: '/tmp/browser-client-4029.png', fullPage: true });
  });

  it('with a bad token the handshake is refused (HTTP 401) and the page explains close 1006', async () => {
    running = await startExampleApp();
    const page = await openClientPage({ token: 'not-a-jwt', context: 'browser-tab' });
    await logShows(page, 'closed 1006');
    expect(await loggedFrames(page)).toEqual([]);
    expect(await page.locator('#status').textContent()).toContain('handshake was refused (401 bad or expired token');
    expect(await running.registry.countByUser('browser-user')).toBe(0);
  });
});
