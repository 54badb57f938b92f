/**
 * 6. Emergency admission at the limit, in-process: a user holds 20 managers, 5 of them zombies
 * (every socket CLOSED); the 21st `acquire` must run emergency cleanup and admit. Timed per
 * iteration, with the liveness probe's wait subtracted and reported on its own. Variant `probe`
 * makes the 15 live connections silent (not heard from recently) but answering, so the probe runs.
 */
import { randomUUID } from 'node:crypto';
import { WebSocketManagerFactory, type WsManagerOptions } from '../../src/index.js';
import { createBenchApp, FakeSocket, serveOnce } from '../lib/in-process-app.js';

const LIMIT = 20;
const ZOMBIES = 5;
const WARMUP = 10;

async function deleteKeys(redisUrl: string, prefix: string): Promise<number> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.del(...keys);
  } while (cursor !== '0');
  redis.disconnect();
  return deleted;
}

serveOnce(async (message) => {
  const iterations = Number(message.iterations);
  const variant = String(message.variant) as 'plain' | 'probe';
  const registry = String(message.registry) as 'memory' | 'redis';
  const redisUrl = String(message.redisUrl ?? 'redis://127.0.0.1:6379');
  const prefix = `wsm-bench-${process.pid}-${randomUUID().slice(0, 8)}:`;
  const options: WsManagerOptions = { maxManagersPerUser: LIMIT, probeTimeoutMs: 1000, nodeId: 'bench-node' };
  if (registry === 'redis') Object.assign(options, { registry: 'redis', redisUrl, redisKeyPrefix: prefix });
  const app = await createBenchApp(options);
  const latencies: number[] = [];
  const probeWaits: number[] = [];
  let freedFailures = 0;
  try {
    const factory = app.get(WebSocketManagerFactory);
    for (let k = 0; k < iterations + WARMUP; k++) {
      const userId = `e${k}`;
      const sockets: FakeSocket[] = [];
      for (let i = 0; i < LIMIT; i++) {
        const socket = new FakeSocket(true);
        sockets.push(socket);
        const admission = await factory.acquire({ userId, context: `c${i}`, socket: socket.asSocket });
        if (variant === 'probe') admission.connection.lastHeardAt -= 60_000;
      }
      for (let i = 0; i < ZOMBIES; i++) sockets[i * 3]!.kill();
      const t0 = performance.now();
      const admission = await factory.acquire({ userId, context: 'c-new', socket: new FakeSocket(true).asSocket });
      const totalMs = performance.now() - t0;
      const probeMs = admission.cleanup?.probe?.waitedMs ?? 0;
      if (!admission.cleanup?.freed) freedFailures++;
      if (k < WARMUP) continue;
      latencies.push(Math.max(0, totalMs - probeMs));
      probeWaits.push(probeMs);
    }
  } finally {
    await app.close();
  }
  const keysDeleted = registry === 'redis' ? await deleteKeys(redisUrl, prefix) : 0;
  return { registry, variant, iterations, latencies, probeWaits, freedFailures, keysDeleted };
});
