import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CleanupLevel, HealthClass, HealthReason, ManagerLimitExceededError, type Admission } from '../../src/index.js';
import { closedOnServer, destroyTcp, SocketHarness, type SocketPair } from '../support/socket-harness.js';
import { createManagerTestBed, type ManagerTestBed } from '../support/testing-module.js';

// The four failures of the design this module replaces: zombies detected but never removed,
// a factory broken by cleanup, a limit enforced before cleanup, and health judged by timestamps.
describe('lock-out regression', () => {
  let harness: SocketHarness;
  let bed: ManagerTestBed;

  beforeEach(async () => {
    harness = await SocketHarness.start();
    bed = await createManagerTestBed({ maxManagersPerUser: 20, probeTimeoutMs: 200 });
  });

  afterEach(async () => {
    await bed.close();
    await harness.close();
  });

  async function fill(userId: string, n: number): Promise<{ pairs: SocketPair[]; admissions: Admission[] }> {
    const pairs = await harness.connectMany(n);
    const admissions: Admission[] = [];
    for (const [i, pair] of pairs.entries()) {
      admissions.push(await bed.factory.acquire({ userId, context: `tab-${i}`, socket: pair.server }));
    }
    return { pairs, admissions };
  }

  it('detects exactly the zombies and removes them', async () => {
    const { pairs, admissions } = await fill('alice', 20);
    // Five peers die: three destroy their TCP socket without a close frame, two close cleanly.
    // The gateway that would call release() is absent, as when the server does not hear of it.
    const dead = [0, 4, 8, 12, 16];
    for (const i of dead.slice(0, 3)) destroyTcp(pairs[i]!.client);
    for (const i of dead.slice(3)) pairs[i]!.client.close();
    await Promise.all(dead.map((i) => closedOnServer(pairs[i]!)));

    const zombies = (await bed.health.assessUser('alice')).filter((a) => a.health === HealthClass.Zombie);
    expect(zombies.map((a) => a.context).sort()).toEqual(dead.map((i) => `tab-${i}`).sort());

    const report = await bed.cleanup.emergency('alice');
    expect(report.detected).toBe(5);
    expect(report.removed).toBe(5);
    expect(report.levels.map((l) => l.level)).toEqual([CleanupLevel.Conservative]);
    expect(report.levels[0]!.reasons).toEqual({ [HealthReason.SocketsClosed]: 5 });
    expect(report.freed).toBe(true);
    expect(await bed.registry.countByUser('alice')).toBe(15);
    const survivors = admissions.filter((_, i) => !dead.includes(i));
    for (const a of survivors) {
      expect(bed.factory.get(a.manager.id)).toBe(a.manager);
      expect(a.connection.isOpen).toBe(true);
    }
  });

  it('the factory still works after cleanup', async () => {
    const { pairs, admissions } = await fill('bob', 20);
    destroyTcp(pairs[3]!.client);
    destroyTcp(pairs[7]!.client);
    await Promise.all([closedOnServer(pairs[3]!), closedOnServer(pairs[7]!)]);
    // One of the zombies fails to close: its socket throws. It must be removed all the same.
    vi.spyOn(admissions[3]!.connection.socket, 'terminate').mockImplementation(() => {
      throw new Error('socket exploded');
    });

    const report = await bed.cleanup.emergency('bob');
    expect(report.removed).toBe(2);
    expect(report.levels[0]!.closeFailures).toBe(1);
    expect(bed.factory.get(admissions[3]!.manager.id)).toBeUndefined();
    expect(await bed.registry.get('bob', admissions[3]!.manager.id)).toBeNull();

    const fresh = await harness.connect();
    const admission = await bed.factory.acquire({ userId: 'bob', context: 'after-cleanup', socket: fresh.server });
    expect(admission.resumed).toBe(false);
    expect(admission.active).toBe(19);
    const received = new Promise<string>((resolve) => fresh.client.once('message', (d) => resolve(String(d))));
    expect(admission.manager.send('hello', { n: 1 })).toBe(1);
    expect(JSON.parse(await received)).toEqual({ event: 'hello', data: { n: 1 } });
    // The context of a removed zombie is free again, as a brand-new manager.
    const again = await harness.connect();
    const revived = await bed.factory.acquire({ userId: 'bob', context: 'tab-3', socket: again.server });
    expect(revived.resumed).toBe(false);
    expect(revived.manager.id).not.toBe(admissions[3]!.manager.id);
  });

  it('the limit accounts for cleanup potential', async () => {
    const { pairs } = await fill('carol', 20);
    for (const i of [1, 2]) destroyTcp(pairs[i]!.client);
    await Promise.all([closedOnServer(pairs[1]!), closedOnServer(pairs[2]!)]);

    const extra = await harness.connect();
    const admission = await bed.factory.acquire({ userId: 'carol', context: 'the-21st', socket: extra.server });
    expect(admission.cleanup).not.toBeNull();
    expect(admission.cleanup!.removed).toBe(2);
    expect(admission.active).toBe(19);
    expect(await bed.registry.countByUser('carol')).toBe(19);

    // With no removable manager left below the allowed level, the limit holds.
    await bed.factory.acquire({ userId: 'carol', context: 'the-20th', socket: (await harness.connect()).server });
    const refused = bed.factory.acquire({ userId: 'carol', context: 'one-too-many', socket: (await harness.connect()).server });
    await expect(refused).rejects.toBeInstanceOf(ManagerLimitExceededError);
    await expect(refused).rejects.toMatchObject({ code: 'MANAGER_LIMIT_REACHED', limit: 20, active: 20 });
  });

  it('health cannot be bypassed', async () => {
    const { pairs, admissions } = await fill('dave', 3);
    destroyTcp(pairs[0]!.client);
    await closedOnServer(pairs[0]!);
    admissions[0]!.manager.markActivity(Date.now() + 60_000); // a fresh (even future) stamp
    const [closed] = (await bed.health.assessUser('dave')).filter((a) => a.managerId === admissions[0]!.manager.id);
    expect(closed).toMatchObject({ health: HealthClass.Zombie, reasons: [HealthReason.SocketsClosed] });

    // Detached past the resume window: zombie whatever the stamp says.
    await bed.factory.release(pairs[1]!.server);
    admissions[1]!.manager.detachedAt = Date.now() - 10 * 60_000;
    admissions[1]!.manager.markActivity();
    const expired = bed.health.assessManager(admissions[1]!.manager);
    expect(expired).toMatchObject({ health: HealthClass.Zombie, reasons: [HealthReason.ResumeWindowExpired] });

    // A registry entry for this node whose manager (and socket) is gone: an inconsistency.
    const orphan = { ...admissions[2]!.manager.toRecord(), managerId: 'orphan-1', context: 'orphan', lastActivityAt: Date.now() };
    await bed.registry.admit(orphan, 20);
    const judged = (await bed.health.assessUser('dave')).find((a) => a.managerId === 'orphan-1');
    expect(judged).toMatchObject({ health: HealthClass.Zombie, reasons: [HealthReason.RegistryOrphan] });

    const report = await bed.cleanup.manual('dave', CleanupLevel.Conservative);
    expect(report.levels[0]!.reasons).toEqual({
      [HealthReason.SocketsClosed]: 1,
      [HealthReason.ResumeWindowExpired]: 1,
      [HealthReason.RegistryOrphan]: 1,
    });
    expect(await bed.registry.listByUser('dave')).toEqual([expect.objectContaining({ managerId: admissions[2]!.manager.id })]);
  });
});
