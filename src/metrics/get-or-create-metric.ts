import { Counter, Gauge, Histogram, type CounterConfiguration, type GaugeConfiguration, type HistogramConfiguration, type Registry } from 'prom-client';

// oxlint-disable-next-line typescript/no-explicit-any -- any metric class, whatever its constructor
type MetricClass = abstract new (...args: any[]) => object;

function getOrCreate<M>(registry: Registry, kind: MetricClass, name: string, create: () => M): M {
  const existing: unknown = registry.getSingleMetric(name);
  if (existing === undefined) return create();
  if (existing instanceof kind) return existing as M;
  throw new Error(
    `metric "${name}" is already registered on this registry as another type; ` +
      `remove it or use a separate Registry for nestjs-websocket-manager`,
  );
}

/**
 * Returns the counter named `config.name` on `registry`, creating it there on first use, so that
 * registering the same metric twice (two module instances sharing one registry, a hot reload)
 * is harmless. `config.registers` is ignored. Throws when the name is taken by another type.
 */
export function getOrCreateCounter<T extends string>(registry: Registry, config: CounterConfiguration<T>): Counter<T> {
  return getOrCreate(registry, Counter, config.name, () => new Counter<T>({ ...config, registers: [registry] }));
}

/** Like {@link getOrCreateCounter}, for a gauge. */
export function getOrCreateGauge<T extends string>(registry: Registry, config: GaugeConfiguration<T>): Gauge<T> {
  return getOrCreate(registry, Gauge, config.name, () => new Gauge<T>({ ...config, registers: [registry] }));
}

/** Like {@link getOrCreateCounter}, for a histogram. */
export function getOrCreateHistogram<T extends string>(registry: Registry, config: HistogramConfiguration<T>): Histogram<T> {
  return getOrCreate(registry, Histogram, config.name, () => new Histogram<T>({ ...config, registers: [registry] }));
}
