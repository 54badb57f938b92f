import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { CleanupLevel } from '../../../src/index.js';
import { closedOnServer, destroyTcp, type SocketPair } from '../../support/socket-harness.js';
import { useMetricsTestBed } from './metrics-test-bed.js';
import { sample } from './prometheus-text.js';

// The gauges are computed from the store at scrape time; they must agree with it after any churn.
describe('WebSocketManagerMetrics', () => {
  const t = useMetricsTestBed();

  describe('gauges', () => {
    /** The truth, read from the store and the sockets directly. */
    function truth(): { connected: number; detached: number; connections: number } {
      const counts = { connected: 0, detached: 0, connections: 0 };
      for (const manager of t.store.values()) {
        const open = [...manager.connections].filter((c) => c.socket.readyState === WebSocket.OPEN).length;
        counts.connections += open;
        if (open > 0) counts.connected++;
        else counts.detached++;
      }
      return counts;
    }

    async function expectGaugesToMatchStore(expected: { connected: number; detached: number; connections: number }): Promise<void> {
      const s = await t.scrape();
      const actual = {
        connected: sample(s, 'ws_manager_managers', { state: 'connected' }),
        detached: sample(s, 'ws_manager_managers', { state: 'detached' }),
        connections: sample(s, 'ws_manager_connections'),
      };
      expect(actual).toEqual(truth());
      expect(actual.connected + actual.detached).toBe(t.store.size);
      expect(actual).toEqual(expected);
    }

    it('equal the store after churn', async () => {
      await t.start({ maxManagersPerUser: 10, maxConnectionsPerManager: 2, resumeWindowMs: 60_000 });
      const pairs = new Map<string, SocketPair[]>();
      for (const user of ['u1', 'u2', 'u3']) {
        for (let i = 0; i < 10; i++) pairs.set(`${user}/${i}`, [(await t.admit(user, `c${i}`)).pair]);
      }
      await expectGaugesToMatchStore({ connected: 30, detached: 0, connections: 30 });

      // Second tabs on five contexts, then a third tab on one of them supersedes its oldest.
      for (let i = 0; i < 5; i++) pairs.get(`u1/${i}`)!.push((await t.admit('u1', `c${i}`)).pair);
      const superseding = await t.admit('u1', 'c0');
      const superseded = pairs.get('u1/0')!.shift()!;
      pairs.get('u1/0')!.push(superseding.pair);
      await closedOnServer(superseded);
      await expectGaugesToMatchStore({ connected: 30, detached: 0, connections: 35 });

      // Clean closes that the owner reports (release): detached managers.
      for (let i = 0; i < 4; i++) {
        const [pair] = pairs.get(`u2/${i}`)!;
        pair!.client.close();
        await closedOnServer(pair!);
        await t.bed.factory.release(pair!.server);
      }
      await expectGaugesToMatchStore({ connected: 26, detached: 4, connections: 31 });

      // Peers that die unnoticed: no release, the sockets say it all the same.
      for (let i = 0; i < 3; i++) destroyTcp(pairs.get(`u3/${i}`)![0]!.client);
      await Promise.all([0, 1, 2].map((i) => closedOnServer(pairs.get(`u3/${i}`)![0]!)));
      await expectGaugesToMatchStore({ connected: 23, detached: 7, connections: 28 });

      // Cleanup removes the zombies, a resume re-attaches a detached manager, force removes more.
      await t.bed.cleanup.manual('u3', CleanupLevel.Conservative);
      await expectGaugesToMatchStore({ connected: 23, detached: 4, connections: 28 });
      await t.admit('u2', 'c0');
      await expectGaugesToMatchStore({ connected: 24, detached: 3, connections: 29 });
      // Force takes u1's least recently active manager (c0, two sockets); aggressive u2's longest detached.
      await t.bed.cleanup.manual('u1', CleanupLevel.Force);
      await t.bed.cleanup.manual('u2', CleanupLevel.Aggressive);
      await expectGaugesToMatchStore({ connected: 23, detached: 2, connections: 27 });
      expect(t.store.size).toBe(25);

      // Everything goes away.
      for (const user of ['u1', 'u2', 'u3']) {
        for (const manager of t.store.listByUser(user)) {
          await t.bed.cleanup.removeOne(user, manager.id, manager.nodeId, 'force', 'forced', 'manual');
        }
      }
      await expectGaugesToMatchStore({ connected: 0, detached: 0, connections: 0 });
    });
  });
});
