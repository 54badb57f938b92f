/** Turns scenario results into comparison rows, a Markdown table and the JSON document. */
import { cpus, release, totalmem } from 'node:os';
import { round } from './lib/stats.js';

/** One figure: module vs bare (either may be absent), and the goal it is judged against. */
export interface Row {
  scenario: string;
  metric: string;
  unit: string;
  module: number | null;
  bare: number | null;
  /** module / bare, when both exist. */
  ratio: number | null;
  /** The goal in words (empty: reported only). */
  target: string;
  /** Rounds behind the figures: module and bare are then medians, `ratio` the median of the per-round ratios. */
  rounds: number;
  /** Lowest and highest per-round ratio (module / bare of the same round), when there were several rounds. */
  ratioRange: [number, number] | null;
  /** Lowest and highest module figure over the rounds, when there were several. */
  moduleRange: [number, number] | null;
  /** `null`: no goal, or not measurable in this run. */
  pass: boolean | null;
}

type Goal = { kind: 'ratio-max' | 'ratio-min' | 'abs-max'; value: number };

/** Several rounds of one figure: the median ratio of the rounds, and the spreads. */
export interface RoundStats {
  rounds: number;
  /** Median of the per-round module / bare ratios (`null`: no round had both). */
  ratio: number | null;
  ratioRange: [number, number] | null;
  moduleRange: [number, number] | null;
}

/**
 * Builds a row; `goal` decides `pass` (a ratio goal needs both figures, an absolute one the
 * module's). With `stats`, the ratio judged is the median of the rounds' own ratios.
 */
export function row(scenario: string, metric: string, unit: string, module: number | null | undefined, bare: number | null | undefined, goal?: Goal, stats?: RoundStats): Row {
  const m = module ?? null;
  const b = bare ?? null;
  const exact = stats ? stats.ratio : m !== null && b !== null && b !== 0 ? m / b : null;
  const ratio = exact === null ? null : round(exact);
  let pass: boolean | null = null;
  let target = '';
  if (goal?.kind === 'ratio-max') {
    target = `≤ ${goal.value}× bare`;
    pass = exact === null ? null : exact <= goal.value;
  } else if (goal?.kind === 'ratio-min') {
    target = `≥ ${goal.value}× bare`;
    pass = exact === null ? null : exact >= goal.value;
  } else if (goal?.kind === 'abs-max') {
    target = `< ${goal.value} ${unit}`;
    pass = m === null ? null : m < goal.value;
  }
  const range = (r: [number, number] | null | undefined): [number, number] | null => (r ? [round(r[0]), round(r[1])] : null);
  return {
    scenario,
    metric,
    unit,
    module: m === null ? null : round(m),
    bare: b === null ? null : round(b),
    ratio,
    target,
    pass,
    rounds: stats?.rounds ?? 1,
    ratioRange: range(stats?.ratioRange),
    moduleRange: range(stats?.moduleRange),
  };
}

export function machineInfo() {
  const cpu = cpus();
  return {
    cpuModel: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    memoryGiB: round(totalmem() / 1024 ** 3),
    node: process.version,
    platform: `${process.platform} ${release()}`,
    date: new Date().toISOString(),
  };
}

const cell = (v: number | null) => (v === null ? '–' : String(v));
const spread = (r: [number, number] | null) => (r ? ` (${r[0]}–${r[1]})` : '');
/** A goal on the module's own figure (`< 20 ms`), not on a ratio. */
const absolute = (r: Row) => r.target.startsWith('<') || r.ratio === null;
/** The module figure, with its spread over the rounds when the goal is on that figure. */
const moduleCell = (r: Row) => cell(r.module) + (absolute(r) ? spread(r.moduleRange) : '');
/** The median ratio, with the spread of the rounds' ratios (when the goal is on the ratio). */
const ratioCell = (r: Row) => cell(r.ratio) + (absolute(r) ? '' : spread(r.ratioRange));
const verdict = (p: boolean | null) => (p === null ? '' : p ? 'pass' : '**MISS**');

export function toMarkdown(rows: Row[], machine: ReturnType<typeof machineInfo> & { pinned?: { server: string; load: string } }, mode: string, durationSec: number, notes: string[]): string {
  const lines = [
    `# nestjs-websocket-manager benchmark (${mode})`,
    '',
    `${machine.date} · ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB · Node ${machine.node} · ${machine.platform} · ${round(durationSec)} s${machine.pinned ? ` · servers pinned to CPU ${machine.pinned.server}, load to ${machine.pinned.load}` : ''}`,
    '',
    'Module and bare are medians over the rounds; the ratio is the median of the rounds\' own module/bare ratios, with their lowest–highest in brackets (for a goal on the module\'s own figure, e.g. `< 20 ms`, the module figure\'s lowest–highest instead). Rows naming the Nest gateway compare it with bare, or the module with it, in the columns they name: context, not judged.',
    '',
    '| scenario | metric | module | bare | ratio | target | result |',
    '| --- | --- | ---: | ---: | ---: | --- | --- |',
    ...rows.map((r) => `| ${r.scenario} | ${r.metric} (${r.unit}) | ${moduleCell(r)} | ${cell(r.bare)} | ${ratioCell(r)} | ${r.target} | ${verdict(r.pass)} |`),
  ];
  if (notes.length > 0) lines.push('', ...notes.map((n) => `- ${n}`));
  return `${lines.join('\n')}\n`;
}

/** A fixed-width table for the terminal. */
export function toText(rows: Row[]): string {
  const header = ['scenario', 'metric', 'module', 'bare', 'ratio', 'target', 'result'];
  const body = rows.map((r) => [r.scenario, `${r.metric} (${r.unit})`, moduleCell(r), cell(r.bare), ratioCell(r), r.target, r.pass === null ? '' : r.pass ? 'pass' : 'MISS']);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const format = (cells: string[]) => cells.map((c, i) => (i >= 2 && i <= 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  return [format(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(format)].join('\n');
}
