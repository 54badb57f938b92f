/**
 * The scenarios that need real sockets: each starts a fresh server of one target, drives the load
 * pool against it, and stops it. Both targets run the same steps with the same environment.
 */
import type { LoadPool } from '../load-pool.js';
import { round, sleep, type Summary } from '../lib/stats.js';
import { ServerHandle, type ServerSample, type Target } from '../targets.js';

/** Sizes of one run (`--quick` shrinks them). */
export interface SocketSizes {
  admissionSockets: number;
  idleSockets: number;
  heartbeatWindowMs: number;
  echoSockets: number;
  echoMessages: number;
  throughputMs: number;
  churnWaves: number;
  churnSockets: number;
  /** Bystander sockets (10 per user) of the one-user-flood scenario. */
  floodBystanders: number;
  /** How long the bystanders' round trips are measured under the flood. */
  floodMs: number;
  /** Connections being opened at once, across all load clients. */
  concurrency: number;
}

export interface RunContext {
  secret: string;
  pool: LoadPool;
  sizes: SocketSizes;
  /** Extra node flags for the servers (e.g. `--cpu-prof`). */
  serverFlags: string[];
  log: (line: string) => void;
}

const MB = 1024 * 1024;
const CONNECT_TIMEOUT_MS = 15_000;

async function withServer<T>(target: Target, env: Record<string, string>, ctx: RunContext, body: (server: ServerHandle) => Promise<T>): Promise<T & { serverOutputLines: number }> {
  const server = await ServerHandle.start(target, { WS_JWT_SECRET: ctx.secret, ...env }, ctx.serverFlags);
  try {
    const result = await body(server);
    return { ...result, serverOutputLines: server.child.outputLines };
  } finally {
    await ctx.pool.close(true, 5000).catch(() => undefined);
    await server.stop();
  }
}

function connect(ctx: RunContext, server: ServerHandle, total: number, contextPrefix: string, userPrefix = 'u') {
  // Ten managers per user: well under the per-user limit of 20, and users still share locks.
  return ctx.pool.connect({
    url: server.url,
    secret: ctx.secret,
    total,
    users: Math.max(1, Math.ceil(total / 10)),
    userPrefix,
    contextPrefix,
    concurrency: ctx.sizes.concurrency,
    timeoutMs: CONNECT_TIMEOUT_MS,
  });
}

const rounded = (s: Summary) => ({ count: s.count, p50: round(s.p50), p99: round(s.p99), max: round(s.max), mean: round(s.mean) });

/**
 * Not measured: warms the load-client processes (their JIT) against one server before the first
 * measured round. Without it the first round's target met cold clients: the bare server's first
 * admission round came out at half its later rate, which flattered the module's ratio.
 */
export async function warmUp(target: Target, ctx: RunContext): Promise<void> {
  await withServer(target, UNLIMITED_BUDGET, ctx, async (server) => {
    await connect(ctx, server, ctx.sizes.admissionSockets, 'warm-');
    await ctx.pool.echoRtt(Math.min(500, ctx.sizes.echoMessages), 64);
    await ctx.pool.echoThroughput(Math.min(2000, ctx.sizes.throughputMs), 4, 64);
    return {};
  });
}

/** CPU per admitted socket over a window: all threads, and (on Linux) the main thread and the others apart. */
function cpuPerAdmission(sample: ServerSample, opened: number) {
  const per = (us: number | undefined) => (us === undefined ? undefined : round(us / Math.max(1, opened)));
  return {
    serverCpuPercent: round(((sample.cpuUserUs + sample.cpuSystemUs) / 1000 / sample.wallMs) * 100),
    /** Server CPU (user + system) per admitted socket: steadier than the rate on a shared machine. */
    serverCpuUsPerAdmission: round((sample.cpuUserUs + sample.cpuSystemUs) / Math.max(1, opened)),
    /** Of which the main thread: JavaScript and the system calls it makes. */
    mainThreadCpuUsPerAdmission: per(sample.mainThreadCpuUs),
    /** Of which V8's background threads (concurrent GC marking, compilers) and libuv's pool. */
    otherThreadsCpuUsPerAdmission: per(sample.otherThreadsCpuUs),
  };
}

/**
 * 1. Admission: handshakes per second (JWT verification included) and time to `session`, on a
 * fresh server process (its code still being compiled, as after a deploy). Then, as context, the
 * same number again on the now warm server after the first sockets closed: steady state.
 */
export async function admission(target: Target, ctx: RunContext) {
  return withServer(target, {}, ctx, async (server) => {
    await server.mark();
    const result = await connect(ctx, server, ctx.sizes.admissionSockets, 'adm-');
    const sample = await server.sample();
    const cold = cpuPerAdmission(sample, result.opened);
    ctx.log(`  ${target.name}: ${result.opened} admitted at ${round(result.ratePerSec)}/s, p99 ${round(result.handshake.p99)} ms, ${cold.serverCpuUsPerAdmission} µs server CPU each${threadsNote(cold)}`);
    // Steady state: the same server once more, its JIT warm. Other users than the first wave's,
    // so the module's detached managers (kept for the resume window) take nobody's slots.
    await ctx.pool.close(false, 10_000);
    await sleep(500);
    await server.mark();
    const again = await connect(ctx, server, ctx.sizes.admissionSockets, 'warm-adm-', 'v');
    const warmSample = await server.sample();
    const warm = cpuPerAdmission(warmSample, again.opened);
    ctx.log(`  ${target.name} (warm): ${again.opened} admitted at ${round(again.ratePerSec)}/s, ${warm.serverCpuUsPerAdmission} µs server CPU each${threadsNote(warm)}`);
    return {
      sockets: ctx.sizes.admissionSockets,
      opened: result.opened,
      failures: result.failures,
      ratePerSec: round(result.ratePerSec),
      handshakeMs: rounded(result.handshake),
      ...cold,
      warm: { opened: again.opened, failures: again.failures, ratePerSec: round(again.ratePerSec), ...warm },
    };
  });
}

function threadsNote(cpu: ReturnType<typeof cpuPerAdmission>): string {
  return cpu.mainThreadCpuUsPerAdmission === undefined ? '' : ` (main thread ${cpu.mainThreadCpuUsPerAdmission}, other threads ${cpu.otherThreadsCpuUsPerAdmission})`;
}

/**
 * 2 + 4. Idle sockets: memory per connection (RSS and heap after GC, delta over the empty server),
 * then the heartbeat's cost with a 1 s interval: CPU % and the worst event-loop block.
 */
export async function idle(target: Target, ctx: RunContext) {
  const n = ctx.sizes.idleSockets;
  return withServer(target, { WS_HEARTBEAT_INTERVAL_MS: '1000' }, ctx, async (server) => {
    const before = await server.gc();
    const result = await connect(ctx, server, n, 'idle-');
    await sleep(1000);
    const after = await server.gc();
    const opened = result.opened;
    // Let a few heartbeat rounds pass before the window, then measure a clean one.
    await sleep(1500);
    await server.mark();
    await sleep(ctx.sizes.heartbeatWindowMs);
    const sample = await server.sample();
    const status = await ctx.pool.status();
    const memory = {
      rssPerConnKiB: round((after.rss - before.rss) / opened / 1024),
      heapPerConnKiB: round((after.heapUsed - before.heapUsed) / opened / 1024),
      rssBeforeMiB: round(before.rss / MB),
      rssAfterMiB: round(after.rss / MB),
      heapBeforeMiB: round(before.heapUsed / MB),
      heapAfterMiB: round(after.heapUsed / MB),
    };
    const heartbeat = {
      windowMs: round(sample.wallMs),
      cpuPercent: round(((sample.cpuUserUs + sample.cpuSystemUs) / 1000 / sample.wallMs) * 100),
      eventLoopMaxMs: round(sample.eldMaxMs),
      eventLoopP99Ms: round(sample.eldP99Ms),
      gcMaxPauseMs: round(sample.gcMaxMs),
      droppedByServer: status.dropped,
      openAtEnd: status.open,
    };
    ctx.log(`  ${target.name}: ${opened} idle, ${memory.rssPerConnKiB} KiB RSS/conn, heartbeat ${heartbeat.cpuPercent}% CPU, worst block ${heartbeat.eventLoopMaxMs} ms`);
    return { sockets: n, opened, failures: result.failures, memory, heartbeat };
  });
}

/**
 * The echo scenario measures the server's raw per-message cost, with each socket sending hundreds
 * of messages per second: the module's inbound budget (on by default, 100 msg/s per connection) is
 * raised out of the way there, so its check still runs on every frame but never drops one.
 */
const UNLIMITED_BUDGET = {
  WS_INBOUND_RATE_PER_CONNECTION: '1000000',
  WS_INBOUND_BURST_PER_CONNECTION: '1000000',
  WS_INBOUND_RATE_PER_USER: '1000000',
  WS_INBOUND_BURST_PER_USER: '1000000',
};

/** 3. Echo: sequential round trips, then every socket keeping 4 echoes in flight. */
export async function echo(target: Target, ctx: RunContext) {
  return withServer(target, UNLIMITED_BUDGET, ctx, async (server) => {
    // The server-side probe goes in before anything is warm (see ServerLatencyProbe) and out once all is measured.
    await server.latencyInstall();
    const result = await connect(ctx, server, ctx.sizes.echoSockets, 'echo-');
    // Warm-up as long as the measurement: with 100 echoes the first measured round trips still ran
    // code being compiled, and the slow ones (twice as many for the module, more code) made its p99.
    await ctx.pool.echoRtt(ctx.sizes.echoMessages, 64);
    await server.latencyStart();
    const rtt = await ctx.pool.echoRtt(ctx.sizes.echoMessages, 64);
    const serverLatency = await server.latencyRead();
    // One sample per echo: more would mean a write the probe paired with an unanswered chunk (a pong).
    if (serverLatency.count !== rtt.count) ctx.log(`  ${target.name}: the server-side probe timed ${serverLatency.count} answers for ${rtt.count} echoes`);
    await server.mark();
    const throughput = await ctx.pool.echoThroughput(ctx.sizes.throughputMs, 4, 64);
    const sample = await server.sample();
    await server.latencyUninstall();
    const cpuUsPerEcho = (sample.cpuUserUs + sample.cpuSystemUs) / Math.max(1, throughput.received);
    ctx.log(
      `  ${target.name}: echo p50 ${round(rtt.p50)} ms p99 ${round(rtt.p99)} ms (server's share p50 ${round(serverLatency.p50)} µs p99 ${round(serverLatency.p99)} µs), ${round(throughput.perSec)} echoes/s, ${round(cpuUsPerEcho)} µs server CPU each`,
    );
    return {
      sockets: result.opened,
      failures: result.failures,
      rttMs: rounded(rtt),
      /** The server's own share of each round trip: chunk read to answer written, inside the server (µs; see ServerLatencyProbe). */
      serverUs: rounded(serverLatency),
      throughputPerSec: round(throughput.perSec),
      throughputLost: throughput.lost,
      /** The CPUs the server was allowed (under `--pin`, the one it was given). */
      serverCpus: sample.cpusAllowed,
      /** Server CPU (user + system) per echo while throughput was measured. */
      serverCpuUsPerEcho: round(cpuUsPerEcho),
    };
  });
}

/**
 * 7. Churn: waves of connect then close. The resume window is 1 s and the sweep runs every second,
 * so every detached manager of a wave must be gone before the heap is read: growth is a leak.
 */
export async function churn(target: Target, ctx: RunContext) {
  const env = { WS_RESUME_WINDOW_MS: '1000', WS_CLEANUP_CRON: '* * * * * *' };
  return withServer(target, env, ctx, async (server) => {
    const baseline = await server.gc();
    const waves: { opened: number; ratePerSec: number; heapAfterMiB: number; rssAfterMiB: number }[] = [];
    for (let wave = 0; wave < ctx.sizes.churnWaves; wave++) {
      const result = await connect(ctx, server, ctx.sizes.churnSockets, `w${wave}-`);
      await ctx.pool.close(false, 10_000);
      await sleep(3000); // resume window (1 s) + a sweep (every 1 s) + margin
      const memory = await server.gc();
      waves.push({ opened: result.opened, ratePerSec: round(result.ratePerSec), heapAfterMiB: round(memory.heapUsed / MB), rssAfterMiB: round(memory.rss / MB) });
    }
    const first = waves[0]?.heapAfterMiB ?? Number.NaN;
    const last = waves.at(-1)?.heapAfterMiB ?? Number.NaN;
    ctx.log(`  ${target.name}: heap after waves ${waves.map((w) => w.heapAfterMiB).join(' / ')} MiB`);
    return { baselineHeapMiB: round(baseline.heapUsed / MB), waves, heapGrowthMiB: round(last - first), heapOverBaselineMiB: round(last - baseline.heapUsed / MB) };
  });
}

/**
 * 8. One-user flood: bystanders' echo round trips (64 B, sequential) on a calm server, then while
 * one user's 5 sockets send echo as fast as they can from another process, reconnecting whenever
 * they are closed. Default settings: the module's inbound budget is on, the bare server has none.
 */
export async function flood(target: Target, ctx: RunContext) {
  return withServer(target, {}, ctx, async (server) => {
    const result = await connect(ctx, server, ctx.sizes.floodBystanders, 'by-');
    await ctx.pool.echoRtt(ctx.sizes.echoMessages, 64); // warm-up, as long as the measurement (see echo)
    const calm = await ctx.pool.echoRtt(ctx.sizes.echoMessages, 64);
    const under = await ctx.pool.echoRttUnderFlood({
      url: server.url,
      secret: ctx.secret,
      userId: 'flooder',
      sockets: 5,
      count: ctx.sizes.echoMessages,
      durationMs: ctx.sizes.floodMs,
      payloadBytes: 64,
    });
    ctx.log(`  ${target.name}: bystander echo p99 ${round(calm.p99)} ms calm, ${round(under.rtt.p99)} ms under a one-user flood (${JSON.stringify(under.flood)})`);
    return {
      bystanders: result.opened,
      failures: result.failures,
      calmRttMs: rounded(calm),
      floodRttMs: rounded(under.rtt),
      /** Round trips still unanswered when the measuring window ended (counted with their wait). */
      floodRttCensored: under.censored,
      flood: under.flood,
    };
  });
}
