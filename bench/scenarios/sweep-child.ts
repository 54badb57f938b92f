/**
 * 5. Sweep cost, in a process of its own per size: fills the store and the in-memory registry
 * with `managers` simulated managers (5% zombies: every socket CLOSED), then times
 * `ScheduledSweepService.sweep()`: total, worst event-loop block, µs per manager. A second sweep
 * over the now clean population shows the pure scan cost.
 */
import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  LocalManagerStore,
  MANAGER_REGISTRY,
  ManagedConnection,
  ScheduledSweepService,
  WebSocketManager,
  type ManagerRegistry,
} from '../../src/index.js';
import { GcWatch } from '../lib/gc-watch.js';
import { createBenchApp, FakeSocket, serveOnce } from '../lib/in-process-app.js';

const ZOMBIE_EVERY = 20; // 5%
const PER_USER = 10;
const NODE_ID = 'bench-node';

async function timedSweep(sweep: ScheduledSweepService) {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  await nextTurn();
  const gc = new GcWatch().start();
  delay.enable();
  const t0 = performance.now();
  const report = await sweep.sweep();
  const totalMs = performance.now() - t0;
  // One more turn so a block at the very end is recorded too.
  await new Promise((r) => setTimeout(r, 5));
  delay.disable();
  const heapAfterMiB = process.memoryUsage().heapUsed / 1024 / 1024;
  return { totalMs, eventLoopMaxMs: delay.max / 1e6, removed: report.removed, heapAfterMiB, ...gc.stop() };
}

serveOnce(async (message) => {
  const managers = Number(message.managers);
  const app = await createBenchApp({ nodeId: NODE_ID, maxManagersPerUser: 20 });
  try {
    const store = app.get(LocalManagerStore);
    const registry = app.get<ManagerRegistry>(MANAGER_REGISTRY);
    const sweep = app.get(ScheduledSweepService);
    const users = Math.ceil(managers / PER_USER);
    const fillStarted = performance.now();
    const now = Date.now();
    for (let i = 0; i < managers; i++) {
      const userId = `u${i % users}`;
      const record = { managerId: randomUUID(), userId, context: `c${i}`, nodeId: NODE_ID, createdAt: now, lastActivityAt: now, detachedAt: null };
      const socket = new FakeSocket();
      const manager = new WebSocketManager(record, 100);
      manager.attach(new ManagedConnection(socket.asSocket, userId), 5);
      if (i % ZOMBIE_EVERY === 0) socket.kill();
      store.add(manager);
      const admitted = await registry.admit(record, 20);
      if (!admitted.admitted) throw new Error(`fill: manager ${i} refused by the registry`);
    }
    const fillMs = performance.now() - fillStarted;
    (globalThis as { gc?: () => void }).gc?.();
    const heapMiB = process.memoryUsage().heapUsed / 1024 / 1024;
    const first = await timedSweep(sweep);
    const second = await timedSweep(sweep);
    return {
      managers,
      zombies: Math.ceil(managers / ZOMBIE_EVERY),
      fillMs,
      heapMiB,
      sweep: { ...first, usPerManager: (first.totalMs * 1000) / managers },
      cleanSweep: { ...second, usPerManager: (second.totalMs * 1000) / (managers - first.removed) },
    };
  } finally {
    await app.close();
  }
});
