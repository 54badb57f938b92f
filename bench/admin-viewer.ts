/**
 * `npm run build && node dist/bench/admin-viewer.js [--admissions N] [--rounds R]`: what the admin
 * module costs during an admission storm, in one process:
 *
 * - `core`: the module alone (no admin module);
 * - `admin, no viewer`: `WebSocketManagerAdminModule` mounted, nobody watching;
 * - `admin, 1 viewer`: the same with one dashboard stream open (`GET /admin/events`, read by a
 *   `fetch` client in a child process, so that only the server's cost is counted).
 *
 * Each round admits N managers (10 per user, sockets faked so that only the module's work is
 * measured) through `WebSocketManagerFactory.acquire`, and reports the admission rate, CPU time
 * per admission and the event-loop delay (p99, max) while it ran. Configurations alternate
 * across rounds; the median round of each is reported. Writes bench/results/admin-viewer.json.
 */
import 'reflect-metadata';
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { WebSocketManagerAdminModule, WebSocketManagerFactory, WebSocketManagerModule } from '../src/index.js';
import { FakeSocket } from './lib/in-process-app.js';
import { DIST_DIR } from './targets.js';

const TOKEN = 'bench-admin-token';
type Config = 'core' | 'admin, no viewer' | 'admin, 1 viewer';

interface Round {
  config: Config;
  admissionsPerSec: number;
  cpuUsPerAdmission: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  viewerEvents: number;
  viewerDropped: number;
}

async function createApp(config: Config): Promise<INestApplication> {
  class BenchAdminModule {}
  const imports = [
    ScheduleModule.forRoot(),
    WebSocketManagerModule.forRootAsync({ isGlobal: true, useFactory: () => ({ cleanupCron: '0 0 0 1 1 *', maxManagersPerUser: 20, heartbeatIntervalMs: 3_600_000 }) }),
  ];
  if (config !== 'core') imports.push(WebSocketManagerAdminModule.forRoot({ token: TOKEN }));
  Module({ imports })(BenchAdminModule);
  const app = await NestFactory.create(BenchAdminModule, { logger: false, abortOnError: false });
  await app.listen(0, '127.0.0.1');
  return app;
}

/**
 * A dashboard viewer in a child process (so that only the server's cost is measured here): reads
 * the event stream, counts messages and reported drops, and prints the counts when told to stop.
 */
const VIEWER = `
const counts = { events: 0, dropped: 0 };
fetch(process.argv[1], { headers: { authorization: 'Bearer ${TOKEN}' } }).then(async (response) => {
  process.send('open');
  let tail = '';
  for await (const chunk of response.body.pipeThrough(new TextDecoderStream())) {
    const text = tail + chunk;
    const blocks = text.split('\\n\\n');
    tail = blocks.pop();
    for (const block of blocks) {
      counts.events++;
      const m = /"dropped":(\\d+)/.exec(block);
      if (block.startsWith('event: dropped') && m) counts.dropped += Number(m[1]);
    }
  }
});
process.on('message', () => process.send(counts, () => process.exit(0)));
`;

interface Viewer {
  stop(): Promise<{ events: number; dropped: number }>;
}

async function openViewer(url: string): Promise<Viewer> {
  const child = fork('--eval', [VIEWER, url], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  // fork() with --eval: the script is the first argument after the flag.
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`viewer exited with ${code}`)));
  });
  return {
    stop: () =>
      new Promise((resolve) => {
        child.once('message', (counts) => resolve(counts as { events: number; dropped: number }));
        child.send('stop');
      }),
  };
}

async function round(config: Config, admissions: number): Promise<Round> {
  const app = await createApp(config);
  const viewer = config === 'admin, 1 viewer' ? await openViewer(`${(await app.getUrl()).replace('[::1]', '127.0.0.1')}/admin/events`) : undefined;
  const factory = app.get(WebSocketManagerFactory);
  const users = Math.ceil(admissions / 10);
  const run = randomUUID().slice(0, 8);
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const cpu = process.cpuUsage();
  const started = performance.now();
  // 100 admissions in flight at a time, as a storm of handshakes would be.
  let next = 0;
  await Promise.all(
    Array.from({ length: 100 }, async () => {
      while (next < admissions) {
        const i = next++;
        await factory.acquire({ userId: `${run}-u${i % users}`, context: `c${Math.floor(i / users)}`, socket: new FakeSocket(true).asSocket });
        // Handshakes arrive from the network: each admission starts in a turn of the loop of its own.
        await yieldToLoop();
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  delay.disable();
  // Let the viewer see the last push before counting.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const seen = (await viewer?.stop()) ?? { events: 0, dropped: 0 };
  await app.close();
  return {
    config,
    admissionsPerSec: Math.round((admissions * 1000) / elapsedMs),
    cpuUsPerAdmission: Math.round(((used.user + used.system) / admissions) * 10) / 10,
    loopDelayP99Ms: Math.round((delay.percentile(99) / 1e6) * 10) / 10,
    loopDelayMaxMs: Math.round((delay.max / 1e6) * 10) / 10,
    viewerEvents: seen.events,
    viewerDropped: seen.dropped,
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { admissions: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '3' } } });
  const admissions = Number(values.admissions);
  const rounds = Number(values.rounds);
  const configs: Config[] = ['core', 'admin, no viewer', 'admin, 1 viewer'];
  const all: Round[] = [];
  for (let r = 0; r < rounds; r++) {
    // Rotated so that no configuration always runs first (warm-up) or last.
    for (const config of [...configs.slice(r % 3), ...configs.slice(0, r % 3)]) {
      const result = await round(config, admissions);
      all.push(result);
      console.log(`round ${r + 1} ${config}: ${result.admissionsPerSec}/s, ${result.cpuUsPerAdmission} µs CPU each, loop delay p99 ${result.loopDelayP99Ms} ms max ${result.loopDelayMaxMs} ms`);
    }
  }
  const summary = configs.map((config) => {
    const mine = all.filter((r) => r.config === config);
    return {
      config,
      admissionsPerSec: median(mine.map((r) => r.admissionsPerSec)),
      cpuUsPerAdmission: median(mine.map((r) => r.cpuUsPerAdmission)),
      loopDelayP99Ms: median(mine.map((r) => r.loopDelayP99Ms)),
      loopDelayMaxMs: median(mine.map((r) => r.loopDelayMaxMs)),
      viewerEvents: median(mine.map((r) => r.viewerEvents)),
      viewerDropped: median(mine.map((r) => r.viewerDropped)),
    };
  });
  console.table(summary);
  const out = join(DIST_DIR, '..', 'bench', 'results', 'admin-viewer.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ at: new Date().toISOString(), admissions, rounds, summary, rounds_: all }, null, 2)}\n`);
  console.log(`written ${out}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
