/**
 * Redis memory per registered manager: one `RedisManagerRegistry` admits `--users` × `--per-user`
 * managers into a private `redis-server`; `INFO memory` `used_memory` before and after, divided
 * by the managers. Records carry realistic ids (UUID manager ids, 24-character user ids).
 *
 *   npm run build && node dist/bench/registry-memory.js [--users 5000] [--per-user 5]
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { RedisManagerRegistry } from '../src/registry/redis/index.js';
import { startRedis } from './lib/redis-server.js';
import { round } from './lib/stats.js';

async function usedMemory(admin: Redis): Promise<number> {
  return Number(/^used_memory:(\d+)/m.exec(await admin.info('memory'))?.[1]);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { users: { type: 'string', default: '5000' }, 'per-user': { type: 'string', default: '5' } } });
  const users = Number(values.users);
  const perUser = Number(values['per-user']);
  const redis = await startRedis();
  const registry = new RedisManagerRegistry({ url: `redis://127.0.0.1:${redis.port}`, keyPrefix: 'wsm:' });
  const admin = new Redis(redis.port, '127.0.0.1');
  try {
    await registry.start('node-1');
    const before = await usedMemory(admin);
    const now = Date.now();
    for (let u = 0; u < users; u += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, users - u) }, async (_, i) => {
          const userId = `user-${String(u + i).padStart(19, '0')}`;
          for (let c = 0; c < perUser; c++) {
            await registry.admit({ managerId: randomUUID(), userId, context: `tab-${c}`, nodeId: 'node-1', createdAt: now, lastActivityAt: now, detachedAt: null }, perUser);
          }
        }),
      );
    }
    const after = await usedMemory(admin);
    const managers = users * perUser;
    const bytes = round((after - before) / managers);
    console.log(`${managers} managers of ${users} users: ${bytes} bytes of Redis memory per manager (used_memory ${before} -> ${after})`);
    console.log(JSON.stringify({ registryMemory: { users, perUser, managers, bytesPerManager: bytes } }));
  } finally {
    await registry.close();
    admin.disconnect();
    await redis.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
