import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ManagerLifecycleService } from '../../src/index.js';
import { SseReader, StalledViewer } from '../support/admin-client.js';
import { startExampleApp, type RunningApp } from '../support/app-harness.js';

const TOKEN = 'admin-e2e-t0ken';

describe('admin event stream back-pressure (GET /admin/events)', () => {
  let running: RunningApp | undefined;
  let viewer: StalledViewer | undefined;

  afterEach(async () => {
    viewer?.close();
    await running?.close();
  });

  it('drops events for a viewer that stops reading, tells it how many once it reads again, and keeps its connection', async () => {
    running = await startExampleApp({ WS_ADMIN_TOKEN: TOKEN });
    const lifecycle = running.app.get(ManagerLifecycleService);
    viewer = new StalledViewer(running.port, '/admin/events', TOKEN);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the stream is open and backed by the paused socket

    // ~33 MB of events: far more than the socket buffers hold while the viewer does not read.
    const emitted = 30_000;
    const padding = 'p'.repeat(1000);
    for (let i = 0; i < emitted; i++) {
      lifecycle.emit({ type: 'alarm', userId: `flood-${i}-${padding}`, failures: i, windowMs: 1 });
      if (i % 500 === 499) await yieldToLoop();
    }
    const heapAfterFlood = process.memoryUsage().heapUsed;

    lifecycle.emit({ type: 'alarm', userId: 'end-of-flood', failures: emitted, windowMs: 1 });
    viewer.resume();
    // The marker is either delivered or counted; the next overview push comes after it either way.
    const markerAt = Date.now();
    await viewer.waitFor((e) => e.type === 'overview' && e.data.at > markerAt);
    expect(viewer.ended).toBe(false);
    const events = viewer.events;
    const flood = events.filter((e) => e.type === 'lifecycle').flatMap((e) => e.data as { type: string; userId: string; failures: number }[]).filter((e) => e.type === 'alarm');
    const dropped = events.filter((e) => e.type === 'dropped').reduce((n, e) => n + (e.data.dropped as number), 0);

    expect(dropped).toBeGreaterThan(0);
    expect(flood.length).toBeLessThan(emitted);
    // Every flood event was either delivered or counted as dropped (overview pushes are counted too).
    expect(flood.length + dropped).toBeGreaterThanOrEqual(emitted);
    // Delivered in order, none twice.
    const seq = flood.map((e) => e.failures).filter((n) => n < emitted);
    expect(seq).toEqual([...seq].sort((a, b) => a - b));
    expect(new Set(seq).size).toBe(seq.length);
    // Nothing like the 33 MB flood was kept in the server's heap for the viewer.
    expect(heapAfterFlood).toBeLessThan(400 * 1024 * 1024);

    // Still connected: a later event reaches it.
    lifecycle.emit({ type: 'alarm', userId: 'after-the-flood', failures: -1, windowMs: 1 });
    expect(await viewer.waitFor((e) => e.type === 'lifecycle' && e.data.some((x: { userId: string }) => x.userId === 'after-the-flood'))).toBeDefined();
  });

  it('ends open streams when the application shuts down, so a viewer never holds a graceful close', async () => {
    const app = await startExampleApp({ WS_ADMIN_TOKEN: TOKEN });
    const reader = new SseReader(`http://127.0.0.1:${app.port}/admin/events`, { authorization: `Bearer ${TOKEN}` });
    try {
      expect(await reader.status).toBe(200);
      await reader.waitFor((e) => e.type === 'overview');
      // Without the stream ending, close() would wait for the open response forever.
      await app.close();
    } finally {
      reader.close();
    }
  });
});
