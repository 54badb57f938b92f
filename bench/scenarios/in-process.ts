/** Runs the in-process scenarios (sweep, emergency admission), each in a child process of its own. */
import { join } from 'node:path';
import { Child } from '../lib/children.js';
import { medianOf, round, summarize } from '../lib/stats.js';
import { DIST_DIR } from '../targets.js';

async function runChild<T>(file: string, message: Record<string, unknown>, flags: string[], timeoutMs: number): Promise<T> {
  const child = new Child(join(DIST_DIR, 'bench', 'scenarios', file), [], { label: file, execArgv: flags });
  try {
    return await child.request<T>({ cmd: 'run', ...message }, timeoutMs);
  } finally {
    await child.stop(1000);
  }
}

interface SweepRun {
  totalMs: number;
  eventLoopMaxMs: number;
  removed: number;
  usPerManager: number;
  heapAfterMiB: number;
  gcTotalMs: number;
  gcMaxMs: number;
  gcMajor: number;
}

/**
 * 5. One fresh process per size, so each heap holds only its own population. The largest size
 * runs `largestRounds` times (its worst block is a GC pause, and pauses vary from run to run):
 * its figures are the medians, every round is kept under `rounds`.
 */
export async function sweep(sizes: number[], largestRounds: number, profileFlags: string[], log: (line: string) => void) {
  const results: (SweepEntry & { rounds?: SweepEntry[] })[] = [];
  const largest = Math.max(...sizes);
  for (const managers of sizes) {
    const rounds = [];
    for (let k = 0; k < (managers === largest ? Math.max(1, largestRounds) : 1); k++) rounds.push(await sweepOnce(managers, profileFlags, log));
    results.push(rounds.length > 1 ? { ...medianOf(rounds), rounds } : rounds[0]!);
  }
  return results;
}

type SweepEntry = Awaited<ReturnType<typeof sweepOnce>>;

async function sweepOnce(managers: number, profileFlags: string[], log: (line: string) => void) {
  // ~1.5 KiB per simulated manager: a million need a bigger old space than the default.
  const heapMiB = Math.max(2048, Math.ceil((managers * 4) / 1024) + 1024);
  const r = await runChild<{ managers: number; zombies: number; fillMs: number; heapMiB: number; sweep: SweepRun; cleanSweep: SweepRun }>(
    'sweep-child.js',
    { managers },
    ['--expose-gc', `--max-old-space-size=${heapMiB}`, ...profileFlags],
    600_000,
  );
  const entry = {
    managers,
    zombies: r.zombies,
    fillSec: round(r.fillMs / 1000),
    heapMiB: round(r.heapMiB),
    sweepMs: round(r.sweep.totalMs),
    eventLoopMaxMs: round(r.sweep.eventLoopMaxMs),
    usPerManager: round(r.sweep.usPerManager),
    removed: r.sweep.removed,
    gcTotalMs: round(r.sweep.gcTotalMs),
    gcMaxPauseMs: round(r.sweep.gcMaxMs),
    heapDuringSweepMiB: round(r.sweep.heapAfterMiB),
    cleanSweepMs: round(r.cleanSweep.totalMs),
    cleanEventLoopMaxMs: round(r.cleanSweep.eventLoopMaxMs),
    cleanUsPerManager: round(r.cleanSweep.usPerManager),
  };
  log(`  ${managers} managers: sweep ${entry.sweepMs} ms (${entry.usPerManager} µs/manager), worst block ${entry.eventLoopMaxMs} ms (longest GC pause ${entry.gcMaxPauseMs} ms, GC ${entry.gcTotalMs} ms in all), removed ${entry.removed}/${entry.zombies}, heap ${entry.heapMiB} MiB`);
  return entry;
}

/** 6. The 21st admission for a user with 5 zombies, per registry and variant. */
export async function emergency(registry: 'memory' | 'redis', variant: 'plain' | 'probe', iterations: number, log: (line: string) => void) {
  const r = await runChild<{ latencies: number[]; probeWaits: number[]; freedFailures: number; keysDeleted: number }>(
    'emergency-child.js',
    { iterations, variant, registry, redisUrl: process.env.WS_REDIS_URL ?? 'redis://127.0.0.1:6379' },
    [],
    120_000,
  );
  const latency = summarize(r.latencies);
  const probe = summarize(r.probeWaits);
  log(`  ${registry}/${variant}: p50 ${round(latency.p50)} ms, p99 ${round(latency.p99)} ms (probe wait p99 ${round(probe.p99)} ms)`);
  return {
    registry,
    variant,
    iterations: latency.count,
    latencyMs: { p50: round(latency.p50), p99: round(latency.p99), max: round(latency.max) },
    probeWaitMs: { p50: round(probe.p50), p99: round(probe.p99), max: round(probe.max) },
    notFreed: r.freedFailures,
    redisKeysDeleted: r.keysDeleted,
  };
}
