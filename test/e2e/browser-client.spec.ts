import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startExampleApp, type RunningApp } from '../support/app-harness.js';
import { CHROMIUM_ARGS, findChromium } from '../support/chromium.js';

// The README's browser snippet (example/public/client.html, served at GET /client, on
// nestjs-websocket-manager/client) in a real Chromium against the example app. The client's own
// behaviour is covered case by case in client-browser.spec.ts.
const lookup = findChromium();

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

  it('connects from the page, logs the session and the echo reply, and holds one manager for the tab', async () => {
    running = await startExampleApp();
    const page = await openClientPage({ token: await running.token('browser-user'), context: 'browser-tab' });

    await logShows(page, '← echo "hello"');
    const text = (await page.locator('#log').textContent()) ?? '';
    const session = JSON.parse(/← session (.*)$/m.exec(text)![1]!) as { managerId: string };
    expect(session).toEqual({ managerId: expect.any(String), context: 'browser-tab', resumed: false, limit: 20, active: 1, cleanup: null });
    expect(await page.locator('#status').textContent()).toBe('open');
    expect(pageErrors).toEqual([]);

    const records = await running.registry.listByUser('browser-user');
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ context: 'browser-tab', managerId: session.managerId, detachedAt: null });
    await page.screenshot({ path: '/tmp/browser-client.png', fullPage: true });
  });

  it('at the per-user limit, logs MANAGER_LIMIT_REACHED and close 4029, and waits long before retrying when nothing will free a slot', async () => {
    running = await startExampleApp({ WS_MAX_MANAGERS_PER_USER: '1', WS_MAX_CLEANUP_LEVEL: 'moderate' });
    const held = await running.connect('browser-user', 'node-session'); // healthy, answers pings
    expect(held.session.event).toBe('session');

    const page = await openClientPage({ token: await running.token('browser-user'), context: 'browser-tab' });
    await logShows(page, 'closed 4029');
    const text = (await page.locator('#log').textContent()) ?? '';
    const error = JSON.parse(/← error (.*)$/m.exec(text)![1]!) as { retryAfterMs: number | null };
    // The held session is healthy and in use: nothing frees a slot by itself, and the hint says so.
    expect(error).toEqual({ code: 'MANAGER_LIMIT_REACHED', limit: 1, active: 1, retryAfterMs: null, reason: 'sessions_in_use' });
    const wait = Number(/closed 4029 MANAGER_LIMIT_REACHED: per-user limit reached: waiting retryAfterMs \(or long, when it is null: nothing frees by itself\); reconnect in (\d+) ms/.exec(text)![1]);
    expect(wait).toBeGreaterThanOrEqual(10_000); // no number to wait for: half the backoff cap at least
    expect(await page.locator('#status').textContent()).toBe('reconnecting');
    expect(pageErrors).toEqual([]);

    expect(held.client.ws.readyState).toBe(held.client.ws.OPEN);
    const records = await running.registry.listByUser('browser-user');
    expect(records.map((r) => r.context)).toEqual(['node-session']);
    await page.screenshot({ path: '/tmp/browser-client-4029.png', fullPage: true });
  });

  it('with a bad token the handshake is refused twice (HTTP 401, seen as 1006) and the client stops as unauthorized', async () => {
    running = await startExampleApp();
    const page = await openClientPage({ token: 'not-a-jwt', context: 'browser-tab' });
    await page.locator('#status', { hasText: 'stopped: unauthorized' }).waitFor({ timeout: 20_000 });
    const text = (await page.locator('#log').textContent()) ?? '';
    expect(text).toContain('closed 1006');
    expect(text).not.toContain('← session');
    expect(await running.registry.countByUser('browser-user')).toBe(0);
  });
});
