/**
 * Lease upkeep cost of the Redis registry: N simulated instances (real `RedisManagerRegistry`
 * objects, each with its own connection and lease tick) against a private `redis-server`, and the
 * Redis work per tick read from `INFO commandstats` deltas over a window. Run it for several
 * fleet sizes: the cost per tick must not grow with N.
 *
 *   npm run build && node dist/bench/lease-cost.js [--nodes 10,100] [--seconds 10] [--ttl 3000]
 *
 * Prints one line per fleet size and a JSON summary. Before the sorted-set layout each tick ran
 * GET + SET + SMEMBERS + one EXISTS per known node: 3 + N commands (103 at N = 100).
 */
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { RedisManagerRegistry } from '../src/registry/redis/index.js';
import { commandStats, startRedis } from './lib/redis-server.js';
import { round, sleep } from './lib/stats.js';

interface Sample {
  nodes: number;
  ticks: number;
  commandsPerTick: number;
  usecPerTick: number;
  /** Commands per tick by name (EVALSHA and the calls inside the script). */
  perTick: Record<string, number>;
}

async function measure(port: number, nodes: number, seconds: number, ttlMs: number): Promise<Sample> {
  const keyPrefix = `lease-bench-${nodes}:`;
  const registries = Array.from({ length: nodes }, () => new RedisManagerRegistry({ url: `redis://127.0.0.1:${port}`, keyPrefix, leaseTtlMs: ttlMs }));
  for (let i = 0; i < nodes; i += 20) await Promise.all(registries.slice(i, i + 20).map((r, j) => r.start(`node-${i + j}`)));
  const admin = new Redis(port, '127.0.0.1');
  try {
    await sleep(ttlMs / 3); // every node past its first interval tick
    await admin.config('RESETSTAT');
    await sleep(seconds * 1000);
    const stats = commandStats(await admin.info('commandstats'));
    // Only the lease ticks run during the window: each is one EVALSHA.
    const ticks = stats.get('evalsha')?.calls ?? 0;
    const perTick: Record<string, number> = {};
    let calls = 0;
    for (const [name, { calls: n }] of stats) {
      if (name.startsWith('config') || name === 'info') continue;
      perTick[name] = round(n / ticks);
      calls += n;
    }
    return { nodes, ticks, commandsPerTick: round(calls / ticks), usecPerTick: round((stats.get('evalsha')?.usec ?? 0) / ticks), perTick };
  } finally {
    await Promise.all(registries.map((r) => r.close()));
    admin.disconnect();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { nodes: { type: 'string', default: '10,100' }, seconds: { type: 'string', default: '10' }, ttl: { type: 'string', default: '3000' } } });
  const sizes = values.nodes.split(',').map(Number);
  const seconds = Number(values.seconds);
  const ttlMs = Number(values.ttl);
  const redis = await startRedis();
  try {
    const samples: Sample[] = [];
    for (const nodes of sizes) {
      const sample = await measure(redis.port, nodes, seconds, ttlMs);
      samples.push(sample);
      console.log(
        `${nodes} nodes: ${sample.ticks} ticks in ${seconds} s, ${sample.commandsPerTick} Redis commands per tick (${JSON.stringify(sample.perTick)}), ${sample.usecPerTick} µs of Redis CPU per tick; before: ${3 + nodes} commands per tick`,
      );
    }
    console.log(JSON.stringify({ leaseCost: samples }));
  } finally {
    await redis.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
