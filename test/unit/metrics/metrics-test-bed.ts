import { afterEach, beforeEach, vi } from 'vitest';
import { LocalManagerStore, WebSocketManagerMetrics, type Admission, type WsManagerOptions } from '../../../src/index.js';
import { SocketHarness, type SocketPair } from '../../support/socket-harness.js';
import { createManagerTestBed, type ManagerTestBed } from '../../support/testing-module.js';
import { parsePrometheusText, type Samples } from './prometheus-text.js';

/** The module, its metrics and a socket harness, rebuilt for every test of the calling suite. */
export interface MetricsTestBed {
  harness: SocketHarness;
  bed: ManagerTestBed;
  metrics: WebSocketManagerMetrics;
  store: LocalManagerStore;
  /** Builds the module (call at the start of each test). */
  start(options?: WsManagerOptions): Promise<void>;
  /** Scrapes and parses the module's registry. */
  scrape(): Promise<Samples>;
  /** Admits a (new or given) socket pair to (user, context). */
  admit(userId: string, context: string, pair?: SocketPair): Promise<{ pair: SocketPair; admission: Admission }>;
}

/** Registers the hooks and returns the bed; its fields are set once `start()` ran. */
export function useMetricsTestBed(): MetricsTestBed {
  const t = {
    async start(options: WsManagerOptions = {}) {
      t.bed = await createManagerTestBed({ probeTimeoutMs: 50, ...options });
      t.metrics = t.bed.module.get(WebSocketManagerMetrics);
      t.store = t.bed.module.get(LocalManagerStore);
    },
    async scrape() {
      return parsePrometheusText(await t.metrics.metrics());
    },
    async admit(userId: string, context: string, pair?: SocketPair) {
      const socketPair = pair ?? (await t.harness.connect());
      return { pair: socketPair, admission: await t.bed.factory.acquire({ userId, context, socket: socketPair.server }) };
    },
  } as MetricsTestBed;
  beforeEach(async () => {
    t.harness = await SocketHarness.start();
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await t.bed?.close();
    await t.harness.close();
  });
  return t;
}
