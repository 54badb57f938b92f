import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { HealthClass, LocalManagerStore, ManagedConnection, WebSocketManager, censusLocalManagers, countLocalManagers } from '../../../src/index.js';
import { FakeSocket } from '../../../bench/lib/in-process-app.js';
import { useMetricsTestBed } from './metrics-test-bed.js';

/** A store of `n` managers: every third one with its socket closed, every fifth with a second, open socket. */
function storeOf(n: number): LocalManagerStore {
  const store = new LocalManagerStore();
  const now = Date.now();
  for (let i = 0; i < n; i++) {
    const manager = new WebSocketManager({ managerId: `m${i}`, userId: `u${i % 7}`, context: `c${i}`, nodeId: 'n', createdAt: now, lastActivityAt: now, detachedAt: null }, 10);
    const first = new FakeSocket();
    if (i % 3 === 0) first.readyState = WebSocket.CLOSED;
    manager.attach(new ManagedConnection(first.asSocket, manager.userId), 5);
    if (i % 5 === 0) manager.attach(new ManagedConnection(new FakeSocket().asSocket, manager.userId), 5);
    store.add(manager);
  }
  return store;
}

describe('censusLocalManagers', () => {
  it('counts what countLocalManagers counts, and each health class the classifier gives', async () => {
    const store = storeOf(101);
    const classes = Object.values(HealthClass);
    const classify = (manager: WebSocketManager) => classes[Number(manager.id.slice(1)) % classes.length]!;
    const census = await censusLocalManagers(store, classify, 10);
    const { byHealth, ...counts } = census;
    expect(counts).toEqual(countLocalManagers(store));
    expect(counts.connected + counts.detached).toBe(101);
    for (const [i, c] of classes.entries()) expect(byHealth[c], c).toBe(Math.floor((101 - 1 - i) / classes.length) + 1);
    // Without a classifier every class reads 0.
    expect(Object.values((await censusLocalManagers(store)).byHealth)).toEqual(classes.map(() => 0));
  });

  it('gives the event loop a turn after each slice instead of blocking for the whole pass', async () => {
    const store = storeOf(100);
    let turns = 0;
    let counting = true;
    const tick = () => {
      if (!counting) return;
      turns++;
      setImmediate(tick);
    };
    setImmediate(tick);
    await censusLocalManagers(store, undefined, 10);
    counting = false;
    // Ten slices: the loop ran between them (a single pass would have let it run once at most).
    expect(turns).toBeGreaterThanOrEqual(9);
  });
});

describe('gauges of one scrape', () => {
  const t = useMetricsTestBed();

  it('read the store in one pass for the three gauges that count it', async () => {
    await t.start({ maxManagersPerUser: 10 });
    for (let i = 0; i < 3; i++) await t.admit('u', `c${i}`);
    const values = t.store.values.bind(t.store);
    let passes = 0;
    t.store.values = () => {
      passes++;
      return values();
    };
    await t.scrape();
    expect(passes).toBe(1);
  });
});
