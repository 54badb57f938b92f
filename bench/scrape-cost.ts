/**
 * A metrics scrape and a health check with many managers held, in-process, with fake sockets:
 * fills the store with N managers (every one with an open socket), then times `GET /metrics`'s
 * work (`registry.metrics()`) and the health indicator's check: total time, and the longest
 * turn of the event loop meanwhile (measured by a `setImmediate` ticker: a scrape that blocks
 * shows up as one long turn).
 *
 *   npm run build && node --expose-gc dist/bench/scrape-cost.js [--managers 1000000] [--rounds 3]
 *
 * Prints each round, then the medians as one JSON line.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { LocalManagerStore, ManagedConnection, WebSocketManager, WebSocketManagerMetrics } from '../src/index.js';
import { WebSocketManagerHealthIndicator, WebSocketManagerHealthModule } from '../src/terminus.js';
import { createBenchApp, FakeSocket } from './lib/in-process-app.js';
import { median, round } from './lib/stats.js';

const { values: args } = parseArgs({ options: { managers: { type: 'string', default: '1000000' }, rounds: { type: 'string', default: '3' } } });
const n = Number(args.managers);
const rounds = Number(args.rounds);

/** Runs `work`, returning its duration and the longest event-loop turn while it ran (ms). */
async function timed(work: () => Promise<unknown>): Promise<{ totalMs: number; worstTurnMs: number }> {
  let last = performance.now();
  let worst = 0;
  let running = true;
  const tick = () => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  const started = performance.now();
  await work();
  const totalMs = performance.now() - started;
  running = false;
  // The turn in which the work ended counts too.
  await new Promise((resolve) => setImmediate(resolve));
  return { totalMs, worstTurnMs: Math.max(worst, performance.now() - last) };
}

const app = await createBenchApp({ nodeId: 'bench-node', maxManagersPerUser: 20 }, [WebSocketManagerHealthModule]);
try {
  const store = app.get(LocalManagerStore);
  const now = Date.now();
  for (let i = 0; i < n; i++) {
    const userId = `u${i % Math.ceil(n / 10)}`;
    const manager = new WebSocketManager({ managerId: randomUUID(), userId, context: `c${i}`, nodeId: 'bench-node', createdAt: now, lastActivityAt: now, detachedAt: null }, 100);
    manager.attach(new ManagedConnection(new FakeSocket().asSocket, userId), 5);
    store.add(manager);
  }
  (globalThis as { gc?: () => void }).gc?.();
  const metrics = app.get(WebSocketManagerMetrics);
  const health = app.get(WebSocketManagerHealthIndicator, { strict: false });
  const scrape: { totalMs: number; worstTurnMs: number }[] = [];
  const check: { totalMs: number; worstTurnMs: number }[] = [];
  for (let r = 0; r < rounds; r++) {
    scrape.push(await timed(() => metrics.registry.metrics()));
    check.push(await timed(() => health.isHealthy('ws')));
    console.log(`round ${r}: scrape ${round(scrape[r]!.totalMs)} ms (longest turn ${round(scrape[r]!.worstTurnMs)} ms), health ${round(check[r]!.totalMs)} ms (longest turn ${round(check[r]!.worstTurnMs)} ms)`);
  }
  const med = (xs: number[]) => round(median(xs));
  console.log(
    JSON.stringify({
      managers: n,
      rounds,
      scrapeMs: med(scrape.map((s) => s.totalMs)),
      scrapeWorstTurnMs: med(scrape.map((s) => s.worstTurnMs)),
      healthMs: med(check.map((s) => s.totalMs)),
      healthWorstTurnMs: med(check.map((s) => s.worstTurnMs)),
    }),
  );
} finally {
  await app.close();
}
