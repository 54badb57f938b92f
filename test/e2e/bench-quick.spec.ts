import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const RUN = fileURLToPath(new URL('../../dist/bench/run.js', import.meta.url));
const ACQUIRE_COST = fileURLToPath(new URL('../../dist/bench/acquire-cost.js', import.meta.url));
const SCRAPE_COST = fileURLToPath(new URL('../../dist/bench/scrape-cost.js', import.meta.url));
/** `--pin` needs Linux, util-linux's taskset and two CPUs (this project's machines and CI have all three). */
const CAN_PIN = process.platform === 'linux' && spawnSync('taskset', ['--version']).status === 0 && availableParallelism() >= 2;

// Keeps the benchmark from rotting: the quick mode must run end to end. Its figures are
// reported by `npm run bench`, never asserted here.
describe('npm run bench -- --quick', () => {
  it('runs every scenario against the module and the bare ws server (and the plain Nest gateway where it runs) and writes its report', () => {
    const out = `${mkdtempSync(`${tmpdir()}/wsm-bench-`)}/quick.json`;
    const run = spawnSync(process.execPath, [RUN, '--quick', '--out', out], { encoding: 'utf8', timeout: 150_000 });
    if (run.status !== 0) throw new Error(`bench exited ${run.status}:\n${run.stdout}\n${run.stderr}`);
    const report = JSON.parse(readFileSync(out, 'utf8')) as {
      machine: unknown;
      rows: { metric: string }[];
      results: { admission: Record<'module' | 'bare' | 'nest', Record<string, unknown>>; echo: Record<string, unknown>; idle: Record<string, unknown> };
    };
    expect(report.machine).toBeTruthy();
    expect(report.rows.length).toBeGreaterThan(0);
    expect(report.results.admission.module).not.toHaveProperty('error');
    expect(report.results.admission.bare).not.toHaveProperty('error');
    expect(report.results.admission.nest).not.toHaveProperty('error');
    expect(report.results.echo).toHaveProperty('nest');
    // The server's own share of the round trip is timed inside both servers.
    for (const target of ['module', 'bare'] as const) {
      expect((report.results.echo[target] as { serverUs: { count: number; p50: number } }).serverUs.count).toBeGreaterThan(0);
      expect((report.results.echo[target] as { serverUs: { count: number; p50: number } }).serverUs.p50).toBeGreaterThan(0);
    }
    expect(report.rows.map((r) => r.metric)).toContain("round trip, server's share p50");
    expect(report.results.idle).not.toHaveProperty('nest'); // speed scenarios only
    expect(report.rows.map((r) => r.metric)).toContain('handshakes/s: module vs Nest gateway (bare column)');
    // The second wave on the warm server, and the CPU split by thread (read from /proc).
    for (const target of ['module', 'bare', 'nest'] as const) {
      const { sockets, warm, mainThreadCpuUsPerAdmission, otherThreadsCpuUsPerAdmission } = report.results.admission[target] as {
        sockets: number;
        warm: { opened: number; mainThreadCpuUsPerAdmission?: number };
        mainThreadCpuUsPerAdmission?: number;
        otherThreadsCpuUsPerAdmission?: number;
      };
      expect(warm.opened).toBe(sockets);
      // CI and this project's machines are Linux: the split must be there.
      expect(mainThreadCpuUsPerAdmission).toBeGreaterThan(0);
      expect(otherThreadsCpuUsPerAdmission).toBeGreaterThanOrEqual(0);
      expect(warm.mainThreadCpuUsPerAdmission).toBeGreaterThan(0);
    }
    expect(report.rows.some((r) => r.metric === 'server CPU per admission: main thread')).toBe(true);
  }, 180_000);

  it.skipIf(!CAN_PIN)('--pin runs the servers on the last CPU and the load on the others, and says so in the report', () => {
    const out = `${mkdtempSync(`${tmpdir()}/wsm-bench-`)}/pinned.json`;
    const run = spawnSync(process.execPath, [RUN, '--quick', '--only', 'echo', '--targets', 'bare', '--pin', '--out', out], { encoding: 'utf8', timeout: 60_000 });
    if (run.status !== 0) throw new Error(`bench --pin exited ${run.status}:\n${run.stdout}\n${run.stderr}`);
    const report = JSON.parse(readFileSync(out, 'utf8')) as {
      machine: { pinned?: { server: string; load: string } };
      results: { echo: { bare: { sockets: number; serverCpus?: string } } };
    };
    expect(report.machine.pinned?.server).toMatch(/^\d+$/);
    expect(report.machine.pinned?.load).toMatch(/^\d+(,\d+)*$/);
    expect(report.results.echo.bare.sockets).toBeGreaterThan(0);
    // The server itself says where it was allowed to run: the one CPU it was given.
    expect(report.results.echo.bare.serverCpus).toBe(report.machine.pinned?.server);
    expect(readFileSync(out.replace(/\.json$/, '.md'), 'utf8')).toContain(`servers pinned to CPU ${report.machine.pinned?.server}`);
  }, 90_000);

  it('acquire-cost.js measures the admission path in-process and prints its medians', () => {
    const run = spawnSync(process.execPath, [ACQUIRE_COST, '--sockets', '200', '--rounds', '4'], { encoding: 'utf8', timeout: 60_000 });
    if (run.status !== 0) throw new Error(`acquire-cost exited ${run.status}:\n${run.stdout}\n${run.stderr}`);
    const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { sockets: number; rounds: number; acquireUs: number; releaseUs: number };
    expect(summary).toMatchObject({ sockets: 200, rounds: 1 });
    expect(summary.acquireUs).toBeGreaterThan(0);
    expect(summary.releaseUs).toBeGreaterThan(0);
  }, 90_000);

  it('scrape-cost.js times a metrics scrape and a health check with many managers and prints its medians', () => {
    const run = spawnSync(process.execPath, ['--expose-gc', SCRAPE_COST, '--managers', '2000', '--rounds', '2'], { encoding: 'utf8', timeout: 60_000 });
    if (run.status !== 0) throw new Error(`scrape-cost exited ${run.status}:\n${run.stdout}\n${run.stderr}`);
    const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { managers: number; scrapeMs: number; healthMs: number };
    expect(summary).toMatchObject({ managers: 2000 });
    expect(summary.scrapeMs).toBeGreaterThan(0);
    expect(summary.healthMs).toBeGreaterThan(0);
  }, 90_000);
});
