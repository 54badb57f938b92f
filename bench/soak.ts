/**
 * Seeded randomized soak of the cluster invariants (issue 9): two instances of the example app
 * (dist/example/main.js) on the soak's own redis-server, driven by random connects, clean
 * closes, destroyed sockets, joins, instance freezes (SIGSTOP past the lease) and Redis stalls.
 * After each burst of chaos it lets the cluster settle (one lease tick + one sweep; polled with a
 * generous deadline) and checks I1 and I3 (see bench/soak/invariants.ts).
 *
 *   npm run soak -- [--seed N] [--seconds S] [--no-faults]
 *
 * `--no-faults` keeps the client chaos (connects, closes, destroys, joins) but freezes nothing.
 *
 * The first line printed is the seed; the same seed replays the same schedule of actions (the
 * timing of a loaded machine still varies). Exits 1 on a violation, printing it and the seed.
 */
import { Redis } from 'ioredis';
import { signUserToken } from '../example/jwt-identity.js';
import { CHAOS_JWT_SECRET, InstanceProcess } from './soak/instance-process.js';
import { converge } from './soak/invariants.js';
import { SoakRedis } from './soak/redis-server.js';
import { chaosBurst, seededRandom, type SoakWorld } from './soak/soak-round.js';
import type { SessionClient } from './soak/session-client.js';

const LEASE_MS = 2000;
const LIMIT = 6;
/** How long a settled snapshot may take to converge before it counts as a violation. */
const SETTLE_TIMEOUT_MS = 30_000;

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

function wholeNumber(name: string, fallback: number): number {
  const raw = argument(name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) {
    console.error(`--${name} must be a whole number, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return Number(raw);
}

async function main(): Promise<number> {
  const seed = wholeNumber('seed', Math.floor(Math.random() * 2 ** 31));
  const seconds = wholeNumber('seconds', 60);
  const faults = !process.argv.includes('--no-faults');
  const replay = `npm run soak -- --seed ${seed} --seconds ${seconds}${faults ? '' : ' --no-faults'}`;
  console.log(`soak seed=${seed} seconds=${seconds} faults=${faults} (replay: ${replay})`);

  const redis = await SoakRedis.start();
  const instances: InstanceProcess[] = [];
  const clients = new Set<SessionClient>();
  const inspector = new Redis(redis.url, { maxRetriesPerRequest: null });
  inspector.on('error', () => undefined);
  const stopAll = () => {
    for (const client of clients) client.ws.terminate();
    for (const instance of instances) void instance.kill();
    redis.kill();
  };
  process.once('exit', stopAll);
  try {
    const env = { WS_LEASE_TTL_MS: String(LEASE_MS), WS_MAX_MANAGERS_PER_USER: String(LIMIT), WS_RESUME_WINDOW_MS: '10000' };
    const keyPrefix = 'soak:';
    for (const nodeId of ['soak-a', 'soak-b']) instances.push(await InstanceProcess.start({ nodeId, redisUrl: redis.url, keyPrefix, env }));
    const users = ['u0', 'u1', 'u2', 'u3'];
    const tokens = new Map(await Promise.all(users.map(async (u) => [u, await signUserToken(CHAOS_JWT_SECRET, u)] as const)));
    const world: SoakWorld = {
      random: seededRandom(seed),
      instances,
      redis,
      users,
      contexts: Array.from({ length: 10 }, (_, i) => `c${i}`),
      leaseMs: LEASE_MS,
      tokens,
      clients,
      stats: {},
      faults,
    };
    const scope = { redis: inspector, keyPrefix, users, limit: LIMIT, instances, clients };
    const deadline = Date.now() + seconds * 1000;
    let checks = 0;
    while (Date.now() < deadline) {
      await chaosBurst(world);
      const violations = await converge(scope, SETTLE_TIMEOUT_MS);
      checks++;
      if (violations.length > 0) {
        console.error(`VIOLATION after ${checks} settled checks (seed ${seed}):\n  ${violations.join('\n  ')}`);
        for (const instance of instances) console.error(`--- ${instance.nodeId}:\n${instance.recentOutput()}`);
        summary(world.stats, checks, clients);
        console.error(`replay: ${replay}`);
        return 1;
      }
    }
    summary(world.stats, checks, clients);
    console.log(`soak ok: I1 and I3 held on ${checks} settled checks (seed ${seed})`);
    return 0;
  } finally {
    inspector.disconnect();
    stopAll();
  }
}

function summary(stats: Record<string, number>, checks: number, clients: Set<SessionClient>): void {
  const line = Object.entries(stats)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  console.log(`summary: checks=${checks} open_clients=${[...clients].filter((c) => c.holding).length} ${line}`);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`soak failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
