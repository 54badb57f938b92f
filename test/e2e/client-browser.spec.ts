import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signUserToken } from '../../example/jwt-identity.js';
import type { SessionInfo } from '../../src/client/index.js';
import { startExampleApp, TEST_SECRET, type RunningApp } from '../support/app-harness.js';
import { CHROMIUM_ARGS, findChromium } from '../support/chromium.js';
import { deleteKeys, freePort, REDIS_URL, requireRedis, startRedisRegistry, uniquePrefix } from '../support/redis.js';
import { waitFor } from '../support/socket-harness.js';

// nestjs-websocket-manager/client in a real Chromium, on the example app's page (GET /client),
// against the real example app. Deadlines are generous: the machine is shared; nothing here
// asserts how fast, only what happened and how many times.
const lookup = findChromium();
const MAIN = fileURLToPath(new URL('../../dist/example/main.js', import.meta.url));

interface PageEvent {
  name: string;
  // oxlint-disable-next-line typescript/no-explicit-any -- each test asserts the shape it expects
  data: any;
}
interface PageState {
  status: string;
  session: SessionInfo | null;
  context: string | undefined;
  duplicated: boolean;
  events: PageEvent[];
}

/** The page's client (window.client) and the events it emitted (window.events). */
function state(page: Page): Promise<PageState> {
  return page.evaluate(() => {
    const w = globalThis as unknown as { client?: PageState; events: PageEvent[] };
    if (!w.client) return { status: 'not loaded', session: null, context: undefined, duplicated: false, events: [] };
    return { status: w.client.status, session: w.client.session, context: w.client.context, duplicated: w.client.duplicated, events: w.events };
  });
}

/** Waits until the page's client state satisfies `predicate`. */
async function until(page: Page, predicate: (s: PageState) => boolean, what: string, timeoutMs = 15_000): Promise<PageState> {
  let last: PageState | undefined;
  try {
    await waitFor(async () => predicate((last = await state(page))), timeoutMs, what);
  } catch (error) {
    throw new Error(`${String(error)} (last state: ${JSON.stringify(last)})`, { cause: error });
  }
  return last!;
}

const isOpen = (s: PageState) => s.status === 'open' && s.session !== null;
const names = (s: PageState) => s.events.map((e) => e.name);

/** Counts WebSocket upgrade requests (handshakes) reaching `running`, and keeps their TCP sockets. */
function countHandshakes(running: RunningApp): { count: () => number; sockets: Socket[]; times: number[] } {
  const sockets: Socket[] = [];
  const times: number[] = [];
  (running.app.getHttpServer() as import('node:http').Server).on('upgrade', (_req, socket: Socket) => {
    sockets.push(socket);
    times.push(Date.now());
  });
  return { count: () => sockets.length, sockets, times };
}

describe.skipIf(lookup.skipReason !== undefined)(`client in the browser (Chromium)${lookup.skipReason ? ` — skipped: ${lookup.skipReason}` : ''}`, () => {
  let browser: Browser;
  let context: BrowserContext | undefined;
  let running: RunningApp | undefined;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: lookup.executablePath, args: CHROMIUM_ARGS, timeout: 15_000 });
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    await context?.close();
    context = undefined;
    await running?.close();
    running = undefined;
    for (const child of children.splice(0)) child.kill('SIGKILL');
  });

  async function openPage(port: number, query: Record<string, string>, errors: string[] = []): Promise<Page> {
    context ??= await browser.newContext();
    const page = await context.newPage();
    page.on('pageerror', (error) => errors.push(error.message));
    const response = await page.goto(`http://127.0.0.1:${port}/client?${new URLSearchParams(query)}`);
    expect(response?.status()).toBe(200);
    return page;
  }

  it('connects, gets its session and the echo, and holds one manager for the tab', async () => {
    running = await startExampleApp();
    const errors: string[] = [];
    const page = await openPage(running.port, { token: await running.token('browser-user') }, errors);
    const s = await until(page, isOpen, 'session');
    await page.locator('#log', { hasText: '← echo "hello"' }).waitFor({ timeout: 15_000 });
    expect(s.session).toMatchObject({ context: s.context, resumed: false, limit: 20, active: 1, cleanup: null });
    expect(await page.locator('#status').textContent()).toBe('open');
    expect(names(s).slice(0, 2)).toEqual(['statuschange', 'session']);
    expect(errors).toEqual([]);
    const records = await running.registry.listByUser('browser-user');
    expect(records.map((r) => [r.managerId, r.context])).toEqual([[s.session!.managerId, s.context]]);
    await page.screenshot({ path: '/tmp/client-browser.png', fullPage: true });
  });

  it('ten refreshes leave one manager: every reload resumes the same context', async () => {
    running = await startExampleApp();
    const page = await openPage(running.port, { token: await running.token('refresh-user') });
    const first = await until(page, isOpen, 'first session');
    for (let i = 0; i < 10; i++) {
      await page.reload();
      const s = await until(page, isOpen, `session after reload ${i + 1}`);
      expect(s.session).toMatchObject({ managerId: first.session!.managerId, context: first.context, resumed: true });
    }
    await waitFor(async () => (await running!.registry.countByUser('refresh-user')) === 1, 10_000, 'one manager');
    expect((await running.registry.listByUser('refresh-user')).map((r) => r.managerId)).toEqual([first.session!.managerId]);
  });

  it('two tabs of one user get two contexts (two managers)', async () => {
    running = await startExampleApp();
    const token = await running.token('two-tabs');
    const a = await until(await openPage(running.port, { token }), isOpen, 'tab A');
    const b = await until(await openPage(running.port, { token }), isOpen, 'tab B');
    expect(a.context).not.toBe(b.context);
    expect(a.session!.managerId).not.toBe(b.session!.managerId);
    expect((await running.registry.listByUser('two-tabs')).map((r) => r.context).sort()).toEqual([a.context, b.context].sort());
  });

  it('a duplicated tab (a copy of sessionStorage while the original lives) takes a new context and steals nothing', async () => {
    running = await startExampleApp();
    const original = await openPage(running.port, { token: await running.token('dup-user') });
    const before = await until(original, isOpen, 'original');
    // window.open of a same-origin page copies sessionStorage, as "Duplicate tab" does.
    const copied = context!.waitForEvent('page');
    await original.evaluate(() => {
      const w = globalThis as unknown as { open(url: string): unknown; location: { href: string } };
      void w.open(w.location.href);
    });
    const duplicate = await copied;
    const dup = await until(duplicate, isOpen, 'duplicate');
    expect(await duplicate.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }).sessionStorage.getItem('wsm:context'))).toBe(dup.context);
    expect(dup.duplicated).toBe(true);
    expect(dup.context).not.toBe(before.context);
    expect(dup.session!.resumed).toBe(false);

    const after = await state(original);
    expect(after).toMatchObject({ status: 'open', context: before.context, duplicated: false });
    expect(names(after)).not.toContain('disconnect'); // not superseded (4002)
    expect((await running.registry.listByUser('dup-user')).map((r) => r.context).sort()).toEqual([before.context, dup.context].sort());
    // A refresh of the duplicate keeps its own (new) context.
    await duplicate.reload();
    expect((await until(duplicate, isOpen, 'duplicate reloaded')).session).toMatchObject({ context: dup.context, resumed: true });
  });

  it('the server destroys the TCP connection: the client reconnects and resumes the same manager', async () => {
    running = await startExampleApp();
    const handshakes = countHandshakes(running);
    const page = await openPage(running.port, { token: await running.token('tcp-user') });
    const first = await until(page, isOpen, 'session');
    expect(handshakes.count()).toBe(1);
    handshakes.sockets[0]!.destroy();
    const s = await until(page, (x) => isOpen(x) && names(x).includes('disconnect'), 'reconnected', 30_000);
    expect(s.events.find((e) => e.name === 'disconnect')!.data).toMatchObject({ code: 1006, reconnectInMs: expect.any(Number) });
    expect(s.events.find((e) => e.name === 'disconnect')!.data.reconnectInMs).toBeLessThanOrEqual(500); // first retry: within the base
    expect(s.session).toMatchObject({ managerId: first.session!.managerId, resumed: true });
    expect(handshakes.count()).toBe(2);
    expect(await running.registry.countByUser('tcp-user')).toBe(1);
  });

  it('offline it goes quiet (no attempt), and on online it reconnects at once', async () => {
    running = await startExampleApp();
    const handshakes = countHandshakes(running);
    const page = await openPage(running.port, { token: await running.token('offline-user') });
    const first = await until(page, isOpen, 'session');
    await context!.setOffline(true);
    await waitFor(() => page.evaluate(() => !(globalThis as unknown as { navigator: { onLine: boolean } }).navigator.onLine), 10_000, 'offline');
    handshakes.sockets[0]!.destroy(); // the connection drops while offline
    await until(page, (x) => x.status === 'reconnecting', 'dropped');
    await new Promise((r) => setTimeout(r, 2500)); // backoff alone would have tried several times by now
    const quiet = await state(page);
    expect(quiet.events.filter((e) => e.name === 'disconnect')).toHaveLength(1);
    expect(handshakes.count()).toBe(1);
    await context!.setOffline(false);
    const s = await until(page, (x) => isOpen(x) && x.events.filter((e) => e.name === 'session').length === 2, 'back online');
    expect(s.session).toMatchObject({ managerId: first.session!.managerId, resumed: true });
    expect(handshakes.count()).toBe(2);
  });

  it('at the limit: 4029, then it waits retryAfterMs instead of hammering (handshakes counted)', async () => {
    running = await startExampleApp({ WS_MAX_MANAGERS_PER_USER: '1', WS_MAX_CLEANUP_LEVEL: 'moderate' });
    const handshakes = countHandshakes(running);
    await running.connect('limit-user', 'held'); // healthy: answers the probe, so no level frees it
    const page = await openPage(running.port, { token: await running.token('limit-user') });
    const s = await until(page, (x) => names(x).includes('disconnect'), '4029');
    const error = s.events.find((e) => e.name === 'error')!.data;
    expect(error).toMatchObject({ code: 'MANAGER_LIMIT_REACHED', limit: 1, active: 1 });
    const disconnect = s.events.find((e) => e.name === 'disconnect')!.data;
    expect(disconnect).toMatchObject({ code: 4029, reason: 'MANAGER_LIMIT_REACHED' });
    // Every session is in use: the hint is null and the client waits half to all of its 20 s cap.
    expect(error).toMatchObject({ retryAfterMs: null, reason: 'sessions_in_use' });
    expect(disconnect.reconnectInMs).toBeGreaterThanOrEqual(10_000);
    expect(s.status).toBe('reconnecting');
    const afterRefusal = handshakes.count(); // the held session's and the page's
    await new Promise((r) => setTimeout(r, 3000));
    expect(handshakes.count()).toBe(afterRefusal);
    expect(afterRefusal).toBe(2);
  });

  it('at the limit with a short retryAfterMs: one retry, no sooner than retryAfterMs, and it gets in once room exists', async () => {
    // Up to moderate, a detached session inside its resume window is not removed: the page meets
    // the limit, with retryAfterMs = the end of that window (about 3 s); past it the detached
    // session is a zombie that the retry's admission removes.
    running = await startExampleApp({ WS_MAX_MANAGERS_PER_USER: '1', WS_MAX_CLEANUP_LEVEL: 'moderate', WS_RESUME_WINDOW_MS: '3000' });
    const handshakes = countHandshakes(running);
    const held = await running.connect('short-wait', 'held');
    held.client.ws.close();
    await waitFor(async () => (await running!.registry.listByUser('short-wait'))[0]?.detachedAt != null, 10_000, 'held detached');
    const page = await openPage(running.port, { token: await running.token('short-wait'), context: 'page' });
    const s = await until(page, isOpen, 'admitted after the wait', 30_000);
    const { retryAfterMs } = s.events.find((e) => e.name === 'error')!.data as { retryAfterMs: number };
    expect(s.events.find((e) => e.name === 'disconnect')!.data).toMatchObject({ code: 4029 });
    expect(retryAfterMs).toBeGreaterThanOrEqual(1000);
    expect(handshakes.count()).toBe(3); // held, the refused page, its one retry
    expect(handshakes.times[2]! - handshakes.times[1]!).toBeGreaterThanOrEqual(retryAfterMs - 50);
    expect(s.session).toMatchObject({ context: 'page', resumed: false });
    expect((await running.registry.listByUser('short-wait')).map((r) => r.context)).toEqual(['page']);
  });

  it('evicted (4001): the evicted event fires, the client stops and never reconnects', async () => {
    running = await startExampleApp({ WS_MAX_MANAGERS_PER_USER: '1', WS_MAX_CLEANUP_LEVEL: 'force' });
    const handshakes = countHandshakes(running);
    const page = await openPage(running.port, { token: await running.token('evict-user') });
    await until(page, isOpen, 'session');
    await running.connect('evict-user', 'newcomer'); // at the limit with force: evicts the page's session
    const s = await until(page, (x) => x.status === 'closed', 'stopped');
    expect(s.events.find((e) => e.name === 'evicted')!.data).toMatchObject({ level: 'force' });
    expect(s.events.find((e) => e.name === 'disconnect')!.data).toMatchObject({ code: 4001, reconnectInMs: null });
    expect(s.events.find((e) => e.name === 'stopped')!.data).toEqual({ reason: 'evicted', code: 4001 });
    expect(await page.locator('#status').textContent()).toBe('stopped: evicted');
    await new Promise((r) => setTimeout(r, 2000));
    expect(handshakes.count()).toBe(2);
  });

  it('a refused handshake (bad token): the token function is asked once more, then unauthorized and stopped', async () => {
    running = await startExampleApp();
    const handshakes = countHandshakes(running);
    const page = await openPage(running.port, { token: 'not-a-jwt' });
    const s = await until(page, (x) => x.status === 'closed', 'stopped', 30_000);
    expect(s.events.filter((e) => e.name === 'unauthorized').map((e) => e.data)).toEqual([{ status: null }]);
    expect(s.events.find((e) => e.name === 'stopped')!.data).toEqual({ reason: 'unauthorized', code: null });
    expect(handshakes.count()).toBe(2);
  });

  /** Starts dist/example/main.js on `port` with `extra` settings and waits until it listens. */
  async function startProcess(port: number, extra: Record<string, string> = {}): Promise<ChildProcess> {
    const env = { ...process.env, PORT: String(port), WS_JWT_SECRET: TEST_SECRET, WS_SHUTDOWN_TIMEOUT_MS: '3000', NO_COLOR: '1', ...extra };
    const app = spawn(process.execPath, [MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(app);
    let out = '';
    await new Promise<void>((resolve, reject) => {
      app.stdout!.on('data', (chunk: Buffer) => (out += String(chunk)).includes('listening on') && resolve());
      app.once('exit', (code) => reject(new Error(`app exited ${code}: ${out}`)));
    });
    return app;
  }

  /** SIGTERM the app under an open page, restart it on the same port, and return the page's state before and after. */
  async function restartUnderPage(extra: Record<string, string> = {}): Promise<{ before: PageState; after: PageState }> {
    const port = await freePort();
    const first = await startProcess(port, extra);
    const page = await openPage(port, { token: await signUserToken(TEST_SECRET, 'restart-user') });
    const before = await until(page, isOpen, 'session');
    const exited = new Promise((resolve) => first.once('exit', resolve));
    first.kill('SIGTERM');
    expect(await exited).toBe(0);
    // The disconnect event, not a status poll: between quick attempts the status may flip faster than we poll.
    const down = await until(page, (x) => x.events.some((e) => e.name === 'disconnect'), 'the 1001 disconnect', 30_000);
    expect(down.events.find((e) => e.name === 'disconnect')!.data).toMatchObject({ code: 1001, reason: 'SERVER_SHUTDOWN' });
    await new Promise((r) => setTimeout(r, 1500)); // a few attempts against a closed port
    await startProcess(port, extra);
    const after = await until(page, (x) => isOpen(x) && x.events.filter((e) => e.name === 'session').length === 2, 'session after restart', 60_000);
    expect(names(after)).not.toContain('stopped');
    expect(names(after)).not.toContain('unauthorized');
    return { before, after };
  }

  it('server SIGTERM (1001) and a restart on the same port: the page reconnects to the same context', async () => {
    const { before, after } = await restartUnderPage();
    expect(after.session).toMatchObject({ context: before.context, resumed: false }); // the in-memory registry died with the process
  }, 120_000);

  it('the same with the Redis registry: the page resumes the same manager the registry kept, and the user holds one', async () => {
    await requireRedis();
    const prefix = uniquePrefix();
    try {
      const { before, after } = await restartUnderPage({ WS_REGISTRY: 'redis', WS_REDIS_URL: REDIS_URL, WS_REDIS_KEY_PREFIX: prefix, WS_NODE_ID: 'restart-node' });
      expect(after.session!.context).toBe(before.context);
      // The restarted instance (same WS_NODE_ID) takes back the session the registry kept.
      expect(after.session).toMatchObject({ managerId: before.session!.managerId, resumed: true });
      const registry = await startRedisRegistry('observer', { keyPrefix: prefix });
      try {
        expect((await registry.listByUser('restart-user')).map((r) => [r.managerId, r.context])).toEqual([[after.session!.managerId, before.context]]);
      } finally {
        await registry.close();
      }
    } finally {
      await deleteKeys(prefix);
    }
  }, 120_000);
});
