import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { probeConnections } from '../../src/cleanup/liveness-probe.js';
import { HealthClass, HealthReason, HeartbeatService, type ManagerRecord } from '../../src/index.js';
import { admitMany, type AdmittedPair } from '../support/fixtures.js';
import { closedOnServer, destroyTcp, SocketHarness } from '../support/socket-harness.js';
import { createManagerTestBed, type ManagerTestBed } from '../support/testing-module.js';

const MINUTE = 60_000;
const NODE = 'node-a';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('HealthAssessmentService', () => {
  let harness: SocketHarness;
  let bed: ManagerTestBed;

  beforeEach(async () => {
    harness = await SocketHarness.start();
    bed = await createManagerTestBed({
      nodeId: NODE,
      idleThresholdMs: MINUTE,
      inactiveThresholdMs: 10 * MINUTE,
      resumeWindowMs: 5 * MINUTE,
      heartbeatTimeoutMs: 50,
    });
  });

  afterEach(async () => {
    await bed.close();
    await harness.close();
  });

  const one = async (client = {}): Promise<AdmittedPair> => (await admitMany(bed, harness, 'u', 1, { prefix: `m${Math.random()}`.replace('.', ''), client }))[0]!;
  const judge = (p: AdmittedPair) => bed.health.assessManager(p.admission.manager);
  const record = (overrides: Partial<ManagerRecord>): ManagerRecord => ({
    managerId: `r-${Math.random().toString(36).slice(2)}`,
    userId: 'u',
    context: `ctx-${Math.random().toString(36).slice(2)}`,
    nodeId: 'node-b',
    createdAt: Date.now() - 20 * MINUTE,
    lastActivityAt: Date.now(),
    detachedAt: null,
    ...overrides,
  });

  describe('#assessManager', () => {
    it('healthy: an open socket and recent activity', async () => {
      const p = await one();
      expect(judge(p)).toMatchObject({ health: HealthClass.Healthy, reasons: [], connections: 1, openConnections: 1, local: true, nodeId: NODE });
    });

    it('idle: responsive but silent past the idle threshold', async () => {
      const p = await one();
      p.admission.manager.markActivity(Date.now() - 2 * MINUTE);
      expect(judge(p)).toMatchObject({ health: HealthClass.Idle, reasons: [HealthReason.IdleThreshold] });
    });

    it('inactive: silent past the inactive threshold, connected or not', async () => {
      const p = await one();
      p.admission.manager.markActivity(Date.now() - 11 * MINUTE);
      expect(judge(p)).toMatchObject({ health: HealthClass.Inactive, reasons: [HealthReason.InactiveThreshold] });
      await bed.factory.release(p.server);
      expect(judge(p).health).toBe(HealthClass.Inactive);
    });

    it('detached: released inside the resume window', async () => {
      const p = await one();
      await bed.factory.release(p.server);
      p.admission.manager.detachedAt = Date.now() - 4 * MINUTE;
      expect(judge(p)).toMatchObject({ health: HealthClass.Detached, reasons: [HealthReason.Detached], connections: 0, openConnections: 0 });
    });

    it('zombie sockets_closed: the peer closed or vanished, however fresh the stamp', async () => {
      const clean = await one();
      const killed = await one();
      clean.client.close();
      destroyTcp(killed.client);
      await Promise.all([closedOnServer(clean), closedOnServer(killed)]);
      for (const p of [clean, killed]) {
        p.admission.manager.markActivity();
        expect(judge(p)).toMatchObject({ health: HealthClass.Zombie, reasons: [HealthReason.SocketsClosed], connections: 1, openConnections: 0 });
      }
    });

    it('zombie resume_window_expired: detached past the window', async () => {
      const p = await one();
      await bed.factory.release(p.server);
      p.admission.manager.detachedAt = Date.now() - 5 * MINUTE;
      expect(judge(p)).toMatchObject({ health: HealthClass.Zombie, reasons: [HealthReason.ResumeWindowExpired] });
    });

    it('unresponsive pong_timeout: a ping left unanswered past heartbeatTimeoutMs', async () => {
      const p = await one({ autoPong: false });
      const { connection } = p.admission;
      bed.module.get(HeartbeatService).untrack(connection); // judged here, not terminated by the wheel
      const pinged = once(p.client, 'ping');
      expect(connection.ping()).toBe(true);
      await pinged;
      expect(judge(p).health).toBe(HealthClass.Healthy); // not yet overdue
      await sleep(80);
      expect(judge(p)).toMatchObject({ health: HealthClass.Unresponsive, reasons: [HealthReason.PongTimeout], openConnections: 1 });
    });

    it('a responsive client answers the ping and stays healthy', async () => {
      const p = await one();
      bed.module.get(HeartbeatService).untrack(p.admission.connection);
      const answered = p.admission.connection.waitForPong(2000);
      p.admission.connection.ping();
      expect(await answered).toBe(true);
      await sleep(80);
      expect(judge(p).health).toBe(HealthClass.Healthy);
    });

    it('unresponsive probe_failed: silent through the liveness probe', async () => {
      const p = await one({ autoPong: false });
      bed.module.get(HeartbeatService).untrack(p.admission.connection);
      p.admission.connection.lastHeardAt = Date.now() - MINUTE;
      expect(await probeConnections([p.admission.connection], 40)).toMatchObject({ probed: 1, unresponsive: 1 });
      expect(judge(p).health).toBe(HealthClass.Unresponsive);
      expect(judge(p).reasons).toContain(HealthReason.ProbeFailed);
    });

    it('one open responsive connection keeps a manager with a closed sibling out of zombie', async () => {
      const pairs = await harness.connectMany(2);
      const first = await bed.factory.acquire({ userId: 'u', context: 'shared', socket: pairs[0]!.server });
      await bed.factory.acquire({ userId: 'u', context: 'shared', socket: pairs[1]!.server });
      destroyTcp(pairs[0]!.client);
      await closedOnServer(pairs[0]!);
      expect(bed.health.assessManager(first.manager)).toMatchObject({ health: HealthClass.Healthy, connections: 2, openConnections: 1 });
    });
  });

  describe('#assessUser', () => {
    it('judges remote records from the record only', async () => {
      const now = Date.now();
      const cases: [Partial<ManagerRecord>, HealthClass, HealthReason[]][] = [
        [{}, HealthClass.Healthy, []],
        [{ lastActivityAt: now - 2 * MINUTE }, HealthClass.Idle, [HealthReason.IdleThreshold]],
        [{ lastActivityAt: now - 11 * MINUTE }, HealthClass.Inactive, [HealthReason.InactiveThreshold]],
        [{ detachedAt: now - MINUTE }, HealthClass.Detached, [HealthReason.Detached]],
        [{ detachedAt: now - 6 * MINUTE }, HealthClass.Zombie, [HealthReason.ResumeWindowExpired]],
      ];
      const records = cases.map(([overrides]) => record(overrides));
      for (const r of records) await bed.registry.admit(r, 100);
      const byId = new Map((await bed.health.assessUser('u', now)).map((a) => [a.managerId, a]));
      cases.forEach(([, health, reasons], i) => {
        expect(byId.get(records[i]!.managerId)).toMatchObject({ health, reasons, local: false, connections: null, openConnections: null, nodeId: 'node-b' });
      });
    });

    it('a record of this node recorded as detached, without a manager here (a restart), is detached inside the window and a zombie past it', async () => {
      const now = Date.now();
      const kept = record({ nodeId: NODE, context: 'kept', lastActivityAt: now - 1000, detachedAt: now - 1000 });
      const expired = record({ nodeId: NODE, context: 'expired', lastActivityAt: now - 1000, detachedAt: now - 10 * MINUTE });
      for (const r of [kept, expired]) await bed.registry.admit(r, 100);
      const byId = new Map((await bed.health.assessUser('u', now)).map((a) => [a.managerId, a]));
      expect(byId.get(kept.managerId)).toMatchObject({ health: HealthClass.Detached, reasons: [HealthReason.Detached] });
      expect(byId.get(expired.managerId)).toMatchObject({ health: HealthClass.Zombie, reasons: [HealthReason.ResumeWindowExpired] });
    });

    it('a record of this node recorded as connected since this process started, without a manager here, is a registry_orphan zombie', async () => {
      const orphan = record({ nodeId: NODE, createdAt: Date.now() + 1, lastActivityAt: Date.now() + MINUTE });
      await bed.registry.admit(orphan, 100);
      const [judged] = await bed.health.assessUser('u');
      expect(judged).toMatchObject({ managerId: orphan.managerId, health: HealthClass.Zombie, reasons: [HealthReason.RegistryOrphan], local: false, connections: 0 });
    });

    it('one left recorded as connected by the process before this one (same node id) is detached since this start', async () => {
      const before = Date.now();
      const left = record({ nodeId: NODE, createdAt: before - MINUTE, lastActivityAt: before - MINUTE });
      await bed.registry.admit(left, 100);
      const [judged] = await bed.health.assessUser('u');
      expect(judged).toMatchObject({ managerId: left.managerId, health: HealthClass.Detached, local: false });
      expect(judged!.detachedAt).toBeLessThanOrEqual(before);
      expect(judged!.detachedAt).toBeGreaterThan(before - MINUTE);
    });

    it('still counts a manager holding sockets here that the registry lost', async () => {
      const p = await one();
      await bed.registry.remove('u', p.admission.manager.id);
      expect(await bed.health.assessUser('u')).toEqual([expect.objectContaining({ managerId: p.admission.manager.id, health: HealthClass.Healthy, local: true })]);
    });

    it('never reads another user', async () => {
      await one();
      await bed.registry.admit(record({ userId: 'other' }), 100);
      expect((await bed.health.assessUser('u')).every((a) => a.userId === 'u')).toBe(true);
      expect(await bed.health.assessUser('nobody')).toEqual([]);
    });
  });
});
