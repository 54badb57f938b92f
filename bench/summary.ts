/** From the raw scenario results to the comparison rows of the table. */
import { median } from './lib/stats.js';
import { row, type Row, type RoundStats } from './report.js';
import type { emergency, sweep } from './scenarios/in-process.js';
import type { admission, churn, echo, flood, idle } from './scenarios/socket-scenarios.js';

/** A scenario's outcome for one target, or why it has none. */
export type Outcome<T> = T | { error: string } | { skipped: string };
/**
 * A socket scenario's outcome per target. Run in rounds, `module`/`bare` hold the per-number
 * medians and `rounds` every round, round i of one target interleaved with round i of the other.
 */
export type PerTarget<T> = {
  module?: Outcome<T>;
  bare?: Outcome<T>;
  /** The plain Nest gateway (admission and echo only). */
  nest?: Outcome<T>;
  rounds?: { module?: Outcome<T>[]; bare?: Outcome<T>[]; nest?: Outcome<T>[] };
};
type TargetName = 'module' | 'bare' | 'nest';

export interface Results {
  admission?: PerTarget<Awaited<ReturnType<typeof admission>>>;
  idle?: PerTarget<Awaited<ReturnType<typeof idle>>>;
  echo?: PerTarget<Awaited<ReturnType<typeof echo>>>;
  churn?: PerTarget<Awaited<ReturnType<typeof churn>>>;
  flood?: PerTarget<Awaited<ReturnType<typeof flood>>>;
  sweep?: Outcome<Awaited<ReturnType<typeof sweep>>>;
  emergency?: Record<string, Outcome<Awaited<ReturnType<typeof emergency>>>>;
}

/** The value of a successful outcome, else `undefined`. */
export function ok<T>(outcome: Outcome<T> | undefined): T | undefined {
  if (outcome === undefined || (typeof outcome === 'object' && outcome !== null && ('error' in outcome || 'skipped' in outcome))) return undefined;
  return outcome as T;
}

/** Sweep time per manager may grow this much from the smallest to the largest size and still count as flat. */
export const FLAT_TOLERANCE = 1.5;
/** Heap growth from the first churn wave to the last that still counts as none (GC noise). */
export const CHURN_TOLERANCE_MIB = 2;

/** One figure of each round of a target (`undefined` where that round failed). */
function series<T>(p: PerTarget<T> | undefined, target: TargetName, pick: (o: T) => number | undefined): (number | undefined)[] {
  const outcomes = p?.rounds?.[target] ?? [p?.[target]];
  return outcomes.map((o) => {
    const value = ok(o);
    return value === undefined ? undefined : pick(value);
  });
}

const defined = (values: (number | undefined)[]) => values.filter((v): v is number => v !== undefined && Number.isFinite(v));
const rangeOf = (values: number[]): [number, number] | null => (values.length > 1 ? [Math.min(...values), Math.max(...values)] : null);

/** Rounds of one figure: the per-round module/bare ratios (round i with round i), their median and spread. */
export function roundStats(module: (number | undefined)[], bare: (number | undefined)[]): RoundStats {
  const ratios: number[] = [];
  for (let i = 0; i < Math.min(module.length, bare.length); i++) {
    const [m, b] = [module[i], bare[i]];
    if (m !== undefined && b !== undefined && b !== 0) ratios.push(m / b);
  }
  return { rounds: Math.max(module.length, bare.length), ratio: ratios.length > 0 ? median(ratios) : null, ratioRange: rangeOf(ratios), moduleRange: rangeOf(defined(module)) };
}

/**
 * A row of a socket scenario's figure: medians over the rounds, ratio = median of the rounds'
 * ratios. `of`/`against` put another pair of targets in the module/bare columns (context rows).
 */
function measured<T>(
  p: PerTarget<T> | undefined,
  scenario: string,
  metric: string,
  unit: string,
  pick: (o: T) => number | undefined,
  goal?: Parameters<typeof row>[5],
  of: TargetName = 'module',
  against: TargetName = 'bare',
): Row {
  const m = series(p, of, pick);
  const b = series(p, against, pick);
  const med = (values: (number | undefined)[]) => (defined(values).length > 0 ? median(defined(values)) : undefined);
  return row(scenario, metric, unit, med(m), med(b), goal, roundStats(m, b));
}

/** Where the plain Nest gateway ran: its figure against bare, and the module's against it (no goal: context). */
function nestRows<T>(p: PerTarget<T> | undefined, scenario: string, metric: string, unit: string, pick: (o: T) => number | undefined): Row[] {
  if (!ok(p?.nest)) return [];
  return [
    measured(p, scenario, `${metric}: Nest gateway (module column) vs bare`, unit, pick, undefined, 'nest', 'bare'),
    measured(p, scenario, `${metric}: module vs Nest gateway (bare column)`, unit, pick, undefined, 'module', 'nest'),
  ];
}

export function buildRows(r: Results): Row[] {
  const rows: Row[] = [];
  const pair = <T>(p: PerTarget<T> | undefined) => ({ m: ok(p?.module), b: ok(p?.bare) });

  const adm = pair(r.admission);
  const n = adm.m?.sockets ?? adm.b?.sockets ?? 0;
  rows.push(
    measured(r.admission, `1 admission @${n}`, 'handshakes/s', '/s', (o) => o.ratePerSec, { kind: 'ratio-min', value: 0.9 }),
    measured(r.admission, `1 admission @${n}`, 'handshake p50', 'ms', (o) => o.handshakeMs.p50),
    measured(r.admission, `1 admission @${n}`, 'handshake p99', 'ms', (o) => o.handshakeMs.p99),
    measured(r.admission, `1 admission @${n}`, 'server CPU per admission', 'µs', (o) => o.serverCpuUsPerAdmission),
    ...nestRows(r.admission, `1 admission @${n}`, 'handshakes/s', '/s', (o) => o.ratePerSec),
    ...nestRows(r.admission, `1 admission @${n}`, 'server CPU per admission', 'µs', (o) => o.serverCpuUsPerAdmission),
    measured(r.admission, `1 admission @${n}`, 'server CPU per admission: main thread', 'µs', (o) => o.mainThreadCpuUsPerAdmission),
    measured(r.admission, `1 admission @${n}`, 'server CPU per admission: other threads', 'µs', (o) => o.otherThreadsCpuUsPerAdmission),
    // Context: the same server's second wave, its code compiled (steady state); not judged.
    measured(r.admission, `1b admission @${n}, warm server`, 'handshakes/s', '/s', (o) => o.warm?.ratePerSec),
    measured(r.admission, `1b admission @${n}, warm server`, 'server CPU per admission', 'µs', (o) => o.warm?.serverCpuUsPerAdmission),
    measured(r.admission, `1b admission @${n}, warm server`, 'server CPU per admission: main thread', 'µs', (o) => o.warm?.mainThreadCpuUsPerAdmission),
    ...nestRows(r.admission, `1b admission @${n}, warm server`, 'server CPU per admission', 'µs', (o) => o.warm?.serverCpuUsPerAdmission),
  );

  const idl = pair(r.idle);
  const ni = idl.m?.sockets ?? idl.b?.sockets ?? 0;
  rows.push(
    measured(r.idle, `2 memory @${ni} idle`, 'RSS per connection', 'KiB', (o) => o.memory.rssPerConnKiB, { kind: 'ratio-max', value: 1.3 }),
    measured(r.idle, `2 memory @${ni} idle`, 'heap after GC per connection', 'KiB', (o) => o.memory.heapPerConnKiB),
  );

  const ech = pair(r.echo);
  const ne = ech.m?.sockets ?? ech.b?.sockets ?? 0;
  rows.push(
    measured(r.echo, `3 echo @${ne}`, 'round trip p50', 'ms', (o) => o.rttMs.p50),
    measured(r.echo, `3 echo @${ne}`, 'round trip p99', 'ms', (o) => o.rttMs.p99, { kind: 'ratio-max', value: 1.2 }),
    measured(r.echo, `3 echo @${ne}`, 'throughput', 'msg/s', (o) => o.throughputPerSec, { kind: 'ratio-min', value: 0.85 }),
    measured(r.echo, `3 echo @${ne}`, 'server CPU per echo', 'µs', (o) => o.serverCpuUsPerEcho),
    // The server's own share of the round trip (chunk read → answer written, timed inside it): context.
    measured(r.echo, `3 echo @${ne}`, "round trip, server's share p50", 'µs', (o) => o.serverUs?.p50),
    measured(r.echo, `3 echo @${ne}`, "round trip, server's share p99", 'µs', (o) => o.serverUs?.p99),
    ...nestRows(r.echo, `3 echo @${ne}`, 'throughput', 'msg/s', (o) => o.throughputPerSec),
    ...nestRows(r.echo, `3 echo @${ne}`, 'round trip p99', 'ms', (o) => o.rttMs.p99),
    ...nestRows(r.echo, `3 echo @${ne}`, 'server CPU per echo', 'µs', (o) => o.serverCpuUsPerEcho),
    ...nestRows(r.echo, `3 echo @${ne}`, "round trip, server's share p50", 'µs', (o) => o.serverUs?.p50),
  );

  rows.push(
    measured(r.idle, `4 heartbeat 1 s @${ni} idle`, 'server CPU', '%', (o) => o.heartbeat.cpuPercent),
    measured(r.idle, `4 heartbeat 1 s @${ni} idle`, 'worst event-loop block', 'ms', (o) => o.heartbeat.eventLoopMaxMs, { kind: 'abs-max', value: 20 }),
  );

  const sw = ok(r.sweep) ?? [];
  for (const s of sw) {
    const label = `5 sweep @${s.managers >= 1e6 ? `${s.managers / 1e6}M` : `${s.managers / 1e3}k`}`;
    const blocks = s.rounds?.map((x) => x.eventLoopMaxMs) ?? [s.eventLoopMaxMs];
    rows.push(
      row(label, 'total', 'ms', s.sweepMs, null),
      row(label, 'worst event-loop block', 'ms', s.eventLoopMaxMs, null, { kind: 'abs-max', value: 20 }, roundStats(blocks, [])),
      row(label, 'time per manager', 'µs', s.usPerManager, null),
    );
  }
  const [smallest, largest] = [sw[0], sw.at(-1)];
  if (smallest && largest && largest !== smallest) {
    const growth = largest.usPerManager / smallest.usPerManager;
    rows.push({ ...row('5 sweep', `µs/manager growth ${smallest.managers}→${largest.managers}`, '×', growth, null), target: `≤ ${FLAT_TOLERANCE}× (flat)`, pass: growth <= FLAT_TOLERANCE });
  }

  for (const [key, outcome] of Object.entries(r.emergency ?? {})) {
    const e = ok(outcome);
    if (!e) continue;
    const label = `6 emergency ${e.registry}${e.variant === 'probe' ? ' +probe' : ''}`;
    const goal = e.registry === 'memory' ? ({ kind: 'abs-max', value: 5 } as const) : undefined;
    rows.push(row(label, 'admission p50 (probe excluded)', 'ms', e.latencyMs.p50, null), row(label, 'admission p99 (probe excluded)', 'ms', e.latencyMs.p99, null, goal));
    if (e.variant === 'probe' || key.endsWith('probe')) rows.push(row(label, 'probe wait p99', 'ms', e.probeWaitMs.p99, null));
  }

  const fl = pair(r.flood);
  if (fl.m || fl.b) {
    const label = `8 one-user flood, ${fl.m?.bystanders ?? fl.b?.bystanders ?? 0} bystanders`;
    rows.push(
      row(label, 'bystander echo p99, calm', 'ms', fl.m?.calmRttMs.p99, fl.b?.calmRttMs.p99),
      row(label, 'bystander echo p50, under flood', 'ms', fl.m?.floodRttMs.p50, fl.b?.floodRttMs.p50),
      row(label, 'bystander echo p99, under flood', 'ms', fl.m?.floodRttMs.p99, fl.b?.floodRttMs.p99),
      row(label, 'bystander echoes answered in the window', 'n', fl.m?.floodRttMs.count, fl.b?.floodRttMs.count),
    );
  }

  const ch = pair(r.churn);
  if (ch.m || ch.b) {
    const waves = Math.max(ch.m?.waves.length ?? 0, ch.b?.waves.length ?? 0);
    for (let w = 0; w < waves; w++) {
      rows.push(row(`7 churn`, `heap after wave ${w + 1}`, 'MiB', ch.m?.waves[w]?.heapAfterMiB, ch.b?.waves[w]?.heapAfterMiB));
    }
    if (waves > 1) {
      const growth = ch.m?.heapGrowthMiB;
      rows.push({
        ...row('7 churn', `heap growth wave 1→${waves}`, 'MiB', growth, ch.b?.heapGrowthMiB),
        ratio: null,
        target: `≤ ${CHURN_TOLERANCE_MIB} MiB (no growth)`,
        pass: growth === undefined ? null : growth <= CHURN_TOLERANCE_MIB,
      });
    }
  }
  return rows.filter((figure) => figure.module !== null || figure.bare !== null);
}

/** Lines for the notes under the table: errors, skips, failed connections, server drops. */
export function buildNotes(r: Results): string[] {
  const notes: string[] = [];
  const visit = (name: string, outcome: unknown) => {
    if (outcome && typeof outcome === 'object') {
      if ('error' in outcome) notes.push(`${name}: error: ${String((outcome as { error: string }).error).split('\n')[0]}`);
      if ('skipped' in outcome) notes.push(`${name}: skipped: ${(outcome as { skipped: string }).skipped}`);
      const failures = (outcome as { failures?: Record<string, number> }).failures;
      if (failures && Object.keys(failures).length > 0) notes.push(`${name}: failed connections ${JSON.stringify(failures)}`);
      const dropped = (outcome as { heartbeat?: { droppedByServer: number } }).heartbeat?.droppedByServer;
      if (dropped) notes.push(`${name}: the server closed ${dropped} idle sockets during the heartbeat window`);
      const lines = (outcome as { serverOutputLines?: number }).serverOutputLines;
      if (lines && lines > 1000) notes.push(`${name}: the server printed ${lines} lines (logging cost is included in its figures)`);
    }
  };
  for (const t of ['module', 'bare'] as const) {
    const f = ok(r.flood?.[t]);
    if (f) notes.push(`flood/${t}: the flooder ${JSON.stringify(f.flood)}${f.floodRttCensored > 0 ? `; the bystander's last echo was still unanswered when the window closed` : ''}`);
  }
  for (const key of ['admission', 'idle', 'echo', 'flood', 'churn'] as const) {
    for (const t of ['module', 'bare', 'nest'] as const) {
      if (t === 'nest' && !r[key]?.nest) continue;
      const rounds = r[key]?.rounds?.[t];
      if (rounds) rounds.forEach((o, i) => visit(`${key}/${t} round ${i + 1}`, o));
      else visit(`${key}/${t}`, r[key]?.[t]);
    }
  }
  visit('sweep', r.sweep);
  for (const [k, v] of Object.entries(r.emergency ?? {})) visit(`emergency/${k}`, v);
  return notes;
}
