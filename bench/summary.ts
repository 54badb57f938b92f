/** From the raw scenario results to the comparison rows of the table. */
import { row, type Row } from './report.js';
import type { emergency, sweep } from './scenarios/in-process.js';
import type { admission, churn, echo, flood, idle } from './scenarios/socket-scenarios.js';

/** A scenario's outcome for one target, or why it has none. */
export type Outcome<T> = T | { error: string } | { skipped: string };
type PerTarget<T> = { module?: Outcome<T>; bare?: Outcome<T> };

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

export function buildRows(r: Results): Row[] {
  const rows: Row[] = [];
  const pair = <T>(p: PerTarget<T> | undefined) => ({ m: ok(p?.module), b: ok(p?.bare) });

  const adm = pair(r.admission);
  const n = adm.m?.sockets ?? adm.b?.sockets ?? 0;
  rows.push(
    row(`1 admission @${n}`, 'handshakes/s', '/s', adm.m?.ratePerSec, adm.b?.ratePerSec, { kind: 'ratio-min', value: 0.9 }),
    row(`1 admission @${n}`, 'handshake p50', 'ms', adm.m?.handshakeMs.p50, adm.b?.handshakeMs.p50),
    row(`1 admission @${n}`, 'handshake p99', 'ms', adm.m?.handshakeMs.p99, adm.b?.handshakeMs.p99),
  );

  const idl = pair(r.idle);
  const ni = idl.m?.sockets ?? idl.b?.sockets ?? 0;
  rows.push(
    row(`2 memory @${ni} idle`, 'RSS per connection', 'KiB', idl.m?.memory.rssPerConnKiB, idl.b?.memory.rssPerConnKiB, { kind: 'ratio-max', value: 1.3 }),
    row(`2 memory @${ni} idle`, 'heap after GC per connection', 'KiB', idl.m?.memory.heapPerConnKiB, idl.b?.memory.heapPerConnKiB),
  );

  const ech = pair(r.echo);
  rows.push(
    row(`3 echo @${ech.m?.sockets ?? ech.b?.sockets ?? 0}`, 'round trip p50', 'ms', ech.m?.rttMs.p50, ech.b?.rttMs.p50),
    row(`3 echo @${ech.m?.sockets ?? ech.b?.sockets ?? 0}`, 'round trip p99', 'ms', ech.m?.rttMs.p99, ech.b?.rttMs.p99, { kind: 'ratio-max', value: 1.2 }),
    row(`3 echo @${ech.m?.sockets ?? ech.b?.sockets ?? 0}`, 'throughput', 'msg/s', ech.m?.throughputPerSec, ech.b?.throughputPerSec),
  );

  rows.push(
    row(`4 heartbeat 1 s @${ni} idle`, 'server CPU', '%', idl.m?.heartbeat.cpuPercent, idl.b?.heartbeat.cpuPercent),
    row(`4 heartbeat 1 s @${ni} idle`, 'worst event-loop block', 'ms', idl.m?.heartbeat.eventLoopMaxMs, idl.b?.heartbeat.eventLoopMaxMs, { kind: 'abs-max', value: 20 }),
  );

  const sw = ok(r.sweep) ?? [];
  for (const s of sw) {
    const label = `5 sweep @${s.managers >= 1e6 ? `${s.managers / 1e6}M` : `${s.managers / 1e3}k`}`;
    rows.push(
      row(label, 'total', 'ms', s.sweepMs, null),
      row(label, 'worst event-loop block', 'ms', s.eventLoopMaxMs, null, { kind: 'abs-max', value: 20 }),
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
  return rows.filter((measured) => measured.module !== null || measured.bare !== null);
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
    for (const t of ['module', 'bare'] as const) visit(`${key}/${t}`, r[key]?.[t]);
  }
  visit('sweep', r.sweep);
  for (const [k, v] of Object.entries(r.emergency ?? {})) visit(`emergency/${k}`, v);
  return notes;
}
