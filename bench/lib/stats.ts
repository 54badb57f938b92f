/** Small statistics helpers shared by the load clients and the runner. */

/** The `p`-th percentile (0–100) of `values`, nearest-rank; `NaN` when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** p50/p99/max/mean of a sample, in the sample's unit. */
export interface Summary {
  count: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

export function summarize(values: readonly number[]): Summary {
  let max = Number.NaN;
  let sum = 0;
  for (const v of values) {
    sum += v;
    if (!(v <= max)) max = v;
  }
  return {
    count: values.length,
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    max,
    mean: values.length > 0 ? sum / values.length : Number.NaN,
  };
}

/** Rounds for reports: 3 significant digits below 100, whole numbers above. */
export function round(value: number): number {
  if (!Number.isFinite(value)) return value;
  if (Math.abs(value) >= 100) return Math.round(value);
  return Number(value.toPrecision(3));
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The median of `values` (mean of the middle two for an even count); `NaN` when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * One outcome whose every number is the median of that number over `outcomes` (same shape;
 * arrays and strings are taken from the first). What the table shows for a target run in rounds.
 */
export function medianOf<T>(outcomes: readonly T[]): T {
  const [first] = outcomes;
  if (first === undefined || outcomes.length === 1) return first as T;
  const merge = (values: unknown[]): unknown => {
    const head = values[0];
    if (typeof head === 'number') return round(median(values.filter((v): v is number => typeof v === 'number')));
    if (head === null || typeof head !== 'object' || Array.isArray(head)) return head;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(head)) out[key] = merge(values.map((v) => (v as Record<string, unknown> | undefined)?.[key]));
    return out;
  };
  return merge([...outcomes]) as T;
}
