/**
 * `npm run bench`: the module's example application against a bare `ws` server, same machine,
 * same run; in admission and echo also a plain Nest gateway (bench/nest-server.ts), as context. Writes bench/results/latest.json and latest.md (quick mode: quick.json / quick.md)
 * and prints the table. Targets are reported, never asserted: the exit code is 0 unless the
 * benchmark itself could not run.
 *
 *   node dist/bench/run.js [--quick] [--out FILE.json] [--only admission,idle,echo,flood,churn,sweep,emergency]
 *                          [--targets bare,module,nest] [--profile] [--rounds N] [--pin]
 *
 * `--pin` gives the servers the last CPU and this runner with its load clients the others
 * (Linux, `taskset`): less spread in the p50 round trip (not measurably in the p99 or the
 * server's share), at the cost of load generation on fewer cores.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { installExitHandlers, killAllChildren } from './lib/children.js';
import { medianOf } from './lib/stats.js';
import { LoadPool } from './load-pool.js';
import { machineInfo, toMarkdown, toText } from './report.js';
import { emergency, sweep } from './scenarios/in-process.js';
import { admission, churn, echo, flood, idle, warmUp, type RunContext, type SocketSizes } from './scenarios/socket-scenarios.js';
import { buildNotes, buildRows, type Outcome, type Results } from './summary.js';
import { availableTargets, DIST_DIR, pinServersToLastCpu, type Target } from './targets.js';

const FULL: SocketSizes & { sweep: number[]; sweepRounds: number; emergencyIterations: number } = {
  admissionSockets: 5000,
  idleSockets: 10_000,
  heartbeatWindowMs: 10_000,
  echoSockets: 1000,
  echoMessages: 5000,
  throughputMs: 5000,
  churnWaves: 3,
  churnSockets: 5000,
  floodBystanders: 100,
  floodMs: 10_000,
  concurrency: 100,
  sweep: [10_000, 100_000, 1_000_000],
  sweepRounds: 3,
  emergencyIterations: 1000,
};

const QUICK: typeof FULL = {
  admissionSockets: 200,
  idleSockets: 200,
  heartbeatWindowMs: 1000,
  echoSockets: 50,
  echoMessages: 100,
  throughputMs: 500,
  churnWaves: 1,
  churnSockets: 200,
  floodBystanders: 20,
  floodMs: 3000,
  concurrency: 20,
  sweep: [10_000],
  sweepRounds: 1,
  emergencyIterations: 20,
};

/**
 * Interleaved module/bare rounds per scenario in full mode. Ratios are noisy on a shared 2-core
 * machine (two full runs a day apart once gave echo throughput 0.87× and 0.56×), so each ratio
 * is the median of the rounds' own ratios, reported with its spread. Admission and echo run five
 * rounds (their rounds' ratios spread over ±10 % on this machine; each round takes seconds), the
 * 10k-socket idle scenario three. Quick mode runs one round.
 */
const FULL_ROUNDS: Partial<Record<string, number>> = { admission: 5, echo: 5, idle: 3 };
let ROUNDS: Partial<Record<string, number>> = {};

/** The per-number medians of the rounds that ran (a failed round is left out; all failed: the first error). */
function medianOutcome(outcomes: Outcome<unknown>[]): unknown {
  const good = outcomes.filter((o) => !(o && typeof o === 'object' && ('error' in o || 'skipped' in o)));
  return good.length === 0 ? outcomes[0] : medianOf(good);
}

const SCENARIOS = ['admission', 'idle', 'echo', 'flood', 'churn', 'sweep', 'emergency'] as const;
type Scenario = (typeof SCENARIOS)[number];

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    only: { type: 'string' },
    targets: { type: 'string' },
    profile: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    pin: { type: 'boolean', default: false },
  },
});

const log = (line: string) => process.stdout.write(`${line}\n`);
const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

async function attempt<T>(name: string, body: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return await body();
  } catch (error) {
    log(`  ${name} failed: ${errorText(error).split('\n')[0]}`);
    return { error: errorText(error) };
  }
}

async function main(): Promise<void> {
  installExitHandlers();
  const started = performance.now();
  const mode = args.quick ? 'quick' : 'full';
  const sizes = args.quick ? QUICK : FULL;
  ROUNDS = args.quick ? {} : FULL_ROUNDS;
  if (args.rounds !== undefined) {
    const n = Number(args.rounds);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--rounds must be a whole number ≥ 1, got ${args.rounds}`);
    ROUNDS = { admission: n, echo: n, idle: n };
  }
  const pinned = args.pin ? pinServersToLastCpu() : undefined;
  if (pinned) log(`pinned: servers on CPU ${pinned.server}, runner and load clients on CPU ${pinned.load}`);
  const loadBefore = loadavg()[0]!;
  const only = new Set<Scenario>((args.only?.split(',') as Scenario[] | undefined) ?? SCENARIOS);
  const unknown = [...only].filter((s) => !SCENARIOS.includes(s));
  if (unknown.length > 0) throw new Error(`unknown scenario(s) ${unknown.join(', ')}; choose from ${SCENARIOS.join(', ')}`);
  const wanted = new Set(args.targets?.split(',') ?? ['bare', 'module', 'nest']);
  const targets: Target[] = availableTargets().filter((t) => wanted.has(t.name));
  const missingModule = wanted.has('module') && !targets.some((t) => t.name === 'module');
  const resultsDir = join(DIST_DIR, '..', 'bench', 'results');
  const out = resolve(args.out ?? join(resultsDir, `${args.quick ? 'quick' : 'latest'}.json`));
  const profileDir = join(resultsDir, 'profiles');
  // One folder per target, so a module profile can be read against the bare one of the same run.
  const profileFlags = (target: string) => (args.profile ? ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, target)}`] : []);

  log(`bench (${mode}): targets ${targets.map((t) => t.name).join(', ') || 'none'}${missingModule ? ' (module app not built: dist/example/main.js missing)' : ''}`);
  const results: Results = {};
  const socketScenarios: Record<string, (t: Target, c: RunContext) => Promise<unknown>> = { admission, idle, echo, flood, churn };
  const needsSockets = (['admission', 'idle', 'echo', 'flood', 'churn'] as const).filter((s) => only.has(s));
  if (needsSockets.length > 0 && targets.length > 0) {
    const pool = LoadPool.start(2);
    const ctx: RunContext = {
      secret: randomBytes(24).toString('base64url'),
      pool,
      sizes,
      serverFlags: [],
      log,
    };
    try {
      log('warm-up of the load clients (not measured):');
      await attempt('warm-up', () => warmUp(targets[0]!, ctx));
      for (const name of needsSockets) {
        log(`${name}:`);
        const rounds = ROUNDS[name] ?? 1;
        const all: Record<string, Outcome<unknown>[]> = {};
        for (let round = 0; round < rounds; round++) {
          // Alternate which target goes first, so neither always meets a warmer (or busier) machine.
          const runs = targets.filter((t) => t.scenarios?.includes(name) ?? true);
          const order = round % 2 === 0 ? runs : [...runs].reverse();
          for (const target of order) {
            ctx.serverFlags = profileFlags(target.name);
            (all[target.name] ??= []).push(await attempt(`${name}/${target.name}`, () => socketScenarios[name]!(target, ctx)));
          }
        }
        const perTarget: Record<string, unknown> = {};
        for (const [target, outcomes] of Object.entries(all)) perTarget[target] = medianOutcome(outcomes);
        if (rounds > 1) perTarget.rounds = all;
        if (missingModule) perTarget.module = { skipped: 'dist/example/main.js not built' };
        (results as Record<string, unknown>)[name] = perTarget;
      }
    } finally {
      await pool.stop();
    }
  }
  if (only.has('sweep')) {
    log('sweep (in-process, module only):');
    results.sweep = await attempt('sweep', () => sweep(sizes.sweep, sizes.sweepRounds, profileFlags('module'), log));
  }
  if (only.has('emergency')) {
    log('emergency admission (in-process, module only):');
    const iterations = sizes.emergencyIterations;
    results.emergency = {
      memory: await attempt('emergency/memory', () => emergency('memory', 'plain', iterations, log)),
      memoryProbe: await attempt('emergency/memory+probe', () => emergency('memory', 'probe', iterations, log)),
      redis: await attempt('emergency/redis', () => emergency('redis', 'plain', Math.min(iterations, 200), log)),
    };
    const redis = results.emergency.redis;
    if (redis && 'error' in redis && /not available|ECONNREFUSED|redis/i.test(redis.error)) {
      results.emergency.redis = { skipped: redis.error.split('\n')[0]! };
    }
  }

  const durationSec = (performance.now() - started) / 1000;
  const machine = { ...machineInfo(), loadAverageAtStart: loadBefore, loadAverageAtEnd: loadavg()[0]!, ...(pinned ? { pinned } : {}) };
  const rows = buildRows(results);
  const notes = buildNotes(results);
  if (loadBefore > machine.cores * 0.5) {
    notes.unshift(`the machine was busy when the run started (load average ${loadBefore.toFixed(1)} on ${machine.cores} cores): latency and CPU figures are noisy`);
  }
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ mode, machine, durationSec, sizes, rows, notes, results }, null, 2)}\n`);
  const md = out.replace(/\.json$/, '') + '.md';
  writeFileSync(md, toMarkdown(rows, machine, mode, durationSec, notes));
  log('');
  log(toText(rows));
  if (notes.length > 0) log(`\n${notes.map((n) => `- ${n}`).join('\n')}`);
  const missed = rows.filter((r) => r.pass === false);
  log(`\n${missed.length === 0 ? 'all measured targets met' : `${missed.length} target(s) missed`} · ${Math.round(durationSec)} s · ${out}`);
}

main()
  .catch((error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  })
  .finally(killAllChildren);
