import type { InstanceProcess } from './instance-process.js';
import type { SoakRedis } from './redis-server.js';
import { SessionClient } from './session-client.js';
import { mulberry32 } from '../lib/seeded-random.js';

/** The soak's PRNG: the same seed replays the same schedule of actions. */
export const seededRandom = mulberry32;

/** What the soak drives. */
export interface SoakWorld {
  random: () => number;
  instances: readonly InstanceProcess[];
  redis: SoakRedis;
  users: readonly string[];
  contexts: readonly string[];
  leaseMs: number;
  tokens: ReadonlyMap<string, string>;
  clients: Set<SessionClient>;
  stats: Record<string, number>;
  /** `false`: no instance freezes or Redis stalls (to tell a race from a fault when triaging). */
  faults: boolean;
}

const pick = <T>(r: number, items: readonly T[]): T | undefined => items[Math.floor(r * items.length)];
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * One burst of chaos (about a second of actions; longer when it freezes an instance or stalls
 * Redis past the lease, since the burst ends only once the fault is over): connects, clean
 * closes, `terminate()`s (TCP destroyed), joins, at most one instance freeze or Redis stall.
 * Resolves once every admission it started has an outcome (or a generous cap passed).
 */
export async function chaosBurst(world: SoakWorld): Promise<void> {
  const { random, stats } = world;
  const pending: Promise<unknown>[] = [];
  let fault: Promise<void> | undefined;
  const count = 6 + Math.floor(random() * 10);
  for (let i = 0; i < count; i++) {
    // Always five draws per action, whatever the state: the schedule (kinds of action, faults,
    // pauses) is the same for a seed even when a loaded machine changes which clients are open.
    const [roll, r1, r2, r3, r4] = Array.from({ length: 5 }, random) as [number, number, number, number, number];
    const running = world.instances.filter((x) => x.alive);
    const holding = [...world.clients].filter((c) => c.holding);
    if (roll < 0.4) {
      const instance = pick(r1, running);
      const userId = pick(r2, world.users)!;
      if (instance) {
        const client = new SessionClient(userId, instance.nodeId, instance.wsUrl(world.tokens.get(userId)!, pick(r3, world.contexts)));
        world.clients.add(client);
        pending.push(client.outcome.then((outcome) => count1(stats, `connect_${outcome}`)));
      }
    } else if (roll < 0.6) {
      const client = pick(r1, holding);
      // A clean close, or the TCP socket destroyed without a close frame.
      const clean = roll < 0.5;
      if (client) {
        if (clean) client.ws.close(1000);
        else client.ws.terminate();
        count1(stats, clean ? 'close' : 'destroy');
      }
    } else if (roll < 0.9) {
      const client = pick(r1, holding);
      const joins = client ? (r2 < 0.2 ? 3 : 1) : 0;
      for (let j = 0; j < joins; j++) {
        client!.join(pick((r3 + j / 3) % 1, world.contexts)!);
        count1(stats, 'join');
      }
    } else if (!world.faults || fault) {
      // at most one fault at a time
    } else if (roll < 0.95) {
      const instance = pick(r1, running);
      if (instance) fault = frozenFor(() => instance.freeze(), () => instance.thaw(), world).then(() => count1(stats, 'instance_freeze'));
    } else {
      fault = frozenFor(() => world.redis.stall(true), () => world.redis.stall(false), world).then(() => count1(stats, 'redis_stall'));
    }
    await sleep(Math.floor(r4 * 200));
  }
  await fault;
  await Promise.race([Promise.all(pending), sleep(15_000)]);
  for (const client of world.clients) if (client.close) world.clients.delete(client);
}

/** Applies a fault for twice the lease plus a margin (so that the lease lapses), then lifts it. */
async function frozenFor(apply: () => void, lift: () => void, world: SoakWorld): Promise<void> {
  apply();
  await sleep(2 * world.leaseMs + 500);
  lift();
}

function count1(stats: Record<string, number>, key: string): void {
  stats[key] = (stats[key] ?? 0) + 1;
}
