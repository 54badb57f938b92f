/**
 * CPU of the module's own admission and release, in-process, with fake sockets (no network, no
 * Nest gateway): rounds of N `acquire` calls (10 contexts per user, all at once) then N
 * `release`, on the in-memory registry. The socket benchmark cannot tell changes of a few µs
 * apart on a shared machine; this isolates the admission path itself.
 *
 *   npm run build && node dist/bench/acquire-cost.js [--sockets 5000] [--rounds 8]
 *
 * Prints µs of CPU (user + system, GC included) per acquire and per release for each round after
 * the first three (warm-up), and their medians.
 */
import { parseArgs } from 'node:util';
import { WebSocketManagerFactory } from '../src/index.js';
import { createBenchApp, FakeSocket } from './lib/in-process-app.js';
import { median, round } from './lib/stats.js';

const { values: args } = parseArgs({ options: { sockets: { type: 'string', default: '5000' }, rounds: { type: 'string', default: '8' } } });
const n = Number(args.sockets);
const rounds = Number(args.rounds);
const WARMUP_ROUNDS = 3;

const cpuUs = (since: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since);
  return used.user + used.system;
};

const app = await createBenchApp({ resumeWindowMs: 60_000 });
const factory = app.get(WebSocketManagerFactory);
const acquire: number[] = [];
const release: number[] = [];
for (let r = 0; r < rounds; r++) {
  const sockets = Array.from({ length: n }, () => new FakeSocket().asSocket);
  let mark = process.cpuUsage();
  await Promise.all(sockets.map((socket, i) => factory.acquire({ userId: `r${r}u${i % Math.ceil(n / 10)}`, context: `c${i}`, socket })));
  const acquireUs = cpuUs(mark) / n;
  for (const socket of sockets) (socket as unknown as FakeSocket).kill();
  mark = process.cpuUsage();
  await Promise.all(sockets.map((socket) => factory.release(socket)));
  const releaseUs = cpuUs(mark) / n;
  if (r < WARMUP_ROUNDS) continue;
  acquire.push(acquireUs);
  release.push(releaseUs);
  console.log(`round ${r}: acquire ${round(acquireUs)} µs, release ${round(releaseUs)} µs of CPU each`);
}
await app.close();
console.log(JSON.stringify({ sockets: n, rounds: rounds - WARMUP_ROUNDS, acquireUs: round(median(acquire)), releaseUs: round(median(release)) }));
