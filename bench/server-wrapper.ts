/**
 * Runs a server entry (the bare baseline or the example application) in this process and answers
 * the runner's measurement requests over IPC, so both targets are measured the same way:
 * `{cmd:'mark'}` restarts the CPU and event-loop-delay window, `{cmd:'sample'}` reads it (CPU also split into the main thread and the others, on Linux),
 * `{cmd:'gc'}` collects garbage (needs `--expose-gc`) and returns `process.memoryUsage()`,
 * `{cmd:'latency-install'}`, `{cmd:'latency-start'}`, `{cmd:'latency-read'}` and
 * `{cmd:'latency-uninstall'}` time the server's own share of each answered chunk between start
 * and read (see ServerLatencyProbe).
 *
 * Usage: node --expose-gc dist/bench/server-wrapper.js <entry.js>
 */
import { resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { cpusAllowedList } from './lib/cpus.js';
import { GcWatch } from './lib/gc-watch.js';
import { ServerLatencyProbe } from './lib/server-latency.js';
import { threadCpu, threadCpuSince } from './lib/thread-cpu.js';

const entry = process.argv[2];
if (!entry) throw new Error('usage: server-wrapper.js <entry.js>');

const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
let cpuMark = process.cpuUsage();
let threadMark = threadCpu();
let wallMark = performance.now();
const gcWatch = new GcWatch().start();
const latency = new ServerLatencyProbe();

type Command = { id: number; cmd: 'mark' | 'sample' | 'gc' | 'latency-install' | 'latency-start' | 'latency-read' | 'latency-uninstall' };

async function answer(message: Command): Promise<Record<string, unknown>> {
  switch (message.cmd) {
    case 'mark':
      delay.reset();
      gcWatch.start();
      cpuMark = process.cpuUsage();
      threadMark = threadCpu();
      wallMark = performance.now();
      return {};
    case 'sample': {
      const cpu = process.cpuUsage(cpuMark);
      const threads = threadCpuSince(threadMark);
      return {
        wallMs: performance.now() - wallMark,
        cpuUserUs: cpu.user,
        cpuSystemUs: cpu.system,
        mainThreadCpuUs: threads?.mainUs,
        otherThreadsCpuUs: threads?.otherUs,
        eldMaxMs: delay.max / 1e6,
        eldP99Ms: delay.percentile(99) / 1e6,
        eldMeanMs: delay.mean / 1e6,
        memory: process.memoryUsage(),
        gcMaxMs: gcWatch.maxMs,
        gcTotalMs: gcWatch.totalMs,
        cpusAllowed: cpusAllowedList(),
      };
    }
    case 'gc': {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (!gc) throw new Error('start the wrapper with --expose-gc');
      // Two full collections a turn apart: finalizers and weak maps settle in the first.
      gc();
      await nextTurn();
      gc();
      return { memory: process.memoryUsage() };
    }
    case 'latency-install':
      latency.install();
      return {};
    case 'latency-start':
      latency.start();
      return {};
    case 'latency-read':
      return { latencyUs: latency.stop() };
    case 'latency-uninstall':
      latency.uninstall();
      return {};
  }
}

process.on('message', (message: Command) => {
  answer(message).then(
    (result) => process.send?.({ ...result, id: message.id }),
    (error: unknown) => process.send?.({ id: message.id, error: String(error) }),
  );
});
// The runner went away: do not outlive it.
process.on('disconnect', () => process.exit(0));

const entryPath = resolve(entry);
// Entries that only start when they are the main module see themselves as such.
process.argv.splice(1, 2, entryPath);
await import(pathToFileURL(entryPath).href);
