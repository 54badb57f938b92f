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
  /** `null`: no goal, or not measurable in this run. */
  pass: boolean | null;
}

type Goal = { kind: 'ratio-max' | 'ratio-min' | 'abs-max'; value: number };

/** Builds a row; `goal` decides `pass` (a ratio goal needs both figures, an absolute one the module's). */
export function row(scenario: string, metric: string, unit: string, module: number | null | undefined, bare: number | null | undefined, goal?: Goal): Row {
  const m = module ?? null;
  const b = bare ?? null;
  const ratio = m !== null && b !== null && b !== 0 ? round(m / b) : null;
  let pass: boolean | null = null;
  let target = '';
  if (goal?.kind === 'ratio-max') {
    target = `≤ ${goal.value}× bare`;
    pass = ratio === null ? null : m! / b! <= goal.value;
  } else if (goal?.kind === 'ratio-min') {
    target = `≥ ${goal.value}× bare`;
    pass = ratio === null ? null : m! / b! >= goal.value;
  } else if (goal?.kind === 'abs-max') {
    target = `< ${goal.value} ${unit}`;
    pass = m === null ? null : m < goal.value;
  }
  return { scenario, metric, unit, module: m === null ? null : round(m), bare: b === null ? null : round(b), ratio, target, pass };
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
const verdict = (p: boolean | null) => (p === null ? '' : p ? 'pass' : '**MISS**');

export function toMarkdown(rows: Row[], machine: ReturnType<typeof machineInfo>, mode: string, durationSec: number, notes: string[]): string {
  const lines = [
    `# nestjs-websocket-manager benchmark (${mode})`,
    '',
    `${machine.date} · ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB · Node ${machine.node} · ${machine.platform} · ${round(durationSec)} s`,
    '',
    '| scenario | metric | module | bare | ratio | target | result |',
    '| --- | --- | ---: | ---: | ---: | --- | --- |',
    ...rows.map((r) => `| ${r.scenario} | ${r.metric} (${r.unit}) | ${cell(r.module)} | ${cell(r.bare)} | ${cell(r.ratio)} | ${r.target} | ${verdict(r.pass)} |`),
  ];
  if (notes.length > 0) lines.push('', ...notes.map((n) => `- ${n}`));
  return `${lines.join('\n')}\n`;
}

/** A fixed-width table for the terminal. */
export function toText(rows: Row[]): string {
  const header = ['scenario', 'metric', 'module', 'bare', 'ratio', 'target', 'result'];
  const body = rows.map((r) => [r.scenario, `${r.metric} (${r.unit})`, cell(r.module), cell(r.bare), cell(r.ratio), r.target, r.pass === null ? '' : r.pass ? 'pass' : 'MISS']);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const format = (cells: string[]) => cells.map((c, i) => (i >= 2 && i <= 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  return [format(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(format)].join('\n');
}
