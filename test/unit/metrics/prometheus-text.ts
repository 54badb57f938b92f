/** Samples of a Prometheus text exposition, keyed by `name{label="value",...}` with labels sorted. */
export type Samples = Map<string, number>;

/** Parses the text format into {@link Samples} (comments skipped). */
export function parsePrometheusText(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) throw new Error(`unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, name, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[name!] = value!;
    samples.set(sampleKey(match[1]!, labels), Number(match[3]));
  }
  return samples;
}

/** The key of one sample in {@link Samples}. */
export function sampleKey(name: string, labels: Record<string, string> = {}): string {
  const entries = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? name : `${name}{${entries.map(([k, v]) => `${k}="${v}"`).join(',')}}`;
}

/** One sample's value; `0` when absent (a counter series not yet created). */
export function sample(samples: Samples, name: string, labels: Record<string, string> = {}): number {
  return samples.get(sampleKey(name, labels)) ?? 0;
}

/**
 * `after - before` of every counter (`*_total`) and histogram count (`*_count`) of `after` whose
 * name starts with `prefix` and that changed: exact numbers, unlike durations and gauges.
 */
export function deltas(before: Samples, after: Samples, prefix = 'ws_manager_'): Record<string, number> {
  const changed: Record<string, number> = {};
  for (const [key, value] of after) {
    if (!key.startsWith(prefix) || !/^\w+_(total|count)(\{|$)/.test(key)) continue;
    const delta = value - (before.get(key) ?? 0);
    if (delta !== 0) changed[key] = delta;
  }
  return changed;
}
