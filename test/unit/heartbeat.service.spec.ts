import { Logger } from '@nestjs/common';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  HeartbeatService,
  ManagedConnection,
  ManagerLifecycleService,
  resolveWsManagerOptions,
  type ManagerLifecycleEvent,
} from '../../src/index.js';
import { admitMany, closeOf, recordEvents } from '../support/fixtures.js';
import { closedOnServer, SocketHarness, waitFor } from '../support/socket-harness.js';
import { createManagerTestBed, type ManagerTestBed } from '../support/testing-module.js';

describe('HeartbeatService', () => {
  let harness: SocketHarness;
  let bed: ManagerTestBed | undefined;

  afterEach(async () => {
    vi.restoreAllMocks();
    await bed?.close();
    bed = undefined;
    await harness.close();
  });

  describe('#tick', () => {
    it('spreads pings over the slots of one interval, a new connection first pinged between half an interval and an interval later', async () => {
      harness = await SocketHarness.start();
      // Driven by hand: no bootstrap, so no timer; interval 100 ms = 20 slots of 5 ms.
      const service = new HeartbeatService(resolveWsManagerOptions({ heartbeatIntervalMs: 100, heartbeatTimeoutMs: 50 }), new ManagerLifecycleService());
      const pairs = await harness.connectMany(40);
      const connections = pairs.map((p) => new ManagedConnection(p.server, 'u'));
      const pingedAtTick = new Map<number, number>();
      let tick = 0;
      for (const [i, c] of connections.entries()) {
        vi.spyOn(c, 'ping').mockImplementation(() => {
          pingedAtTick.set(i, tick);
          return true;
        });
        service.track(c);
      }
      expect(service.size).toBe(40);

      const now = Date.now();
      for (tick = 0; tick < 20; tick++) service.tick(now + tick * 5);
      // Everyone once within the interval, nobody in its first half...
      expect([...pingedAtTick.keys()].sort((a, b) => a - b)).toEqual(connections.map((_, i) => i));
      expect(Math.min(...pingedAtTick.values())).toBeGreaterThanOrEqual(10);
      // ...and no slot holds more than its share (40 connections over 10 slots).
      const perTick = new Map<number, number>();
      for (const t of pingedAtTick.values()) perTick.set(t, (perTick.get(t) ?? 0) + 1);
      expect(Math.max(...perTick.values())).toBe(4);
    });

    it('keeps its timer alive through a throwing tick: logged once a minute, never thrown into the loop', async () => {
      harness = await SocketHarness.start();
      const errors = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
      const service = new HeartbeatService(resolveWsManagerOptions({ heartbeatIntervalMs: 100, heartbeatTimeoutMs: 50 }), new ManagerLifecycleService());
      const [pair] = await harness.connectMany(1);
      const broken = new ManagedConnection(pair!.server, 'u');
      Object.defineProperty(broken, 'isClosed', {
        get: () => {
          throw new Error('socket state unreadable');
        },
      });
      const ticks = vi.spyOn(service, 'tick');
      service.track(broken);
      service.onApplicationBootstrap();
      try {
        await waitFor(() => ticks.mock.calls.length >= 40, 5000, 'the wheel to turn twice');
      } finally {
        service.onModuleDestroy();
      }
      expect(errors).toHaveBeenCalledTimes(1);
      expect(String(errors.mock.calls[0]![0])).toContain('socket state unreadable');
    });

    it('only the pong echoing the current ping clears it; unsolicited pongs do not', async () => {
      harness = await SocketHarness.start();
      const [pair] = await harness.connectMany(1);
      const connection = new ManagedConnection(pair!.server, 'u');
      // The client does not read (so it never sees the ping) but keeps sending pongs of its own.
      pair!.client.pause();
      const answered = connection.waitForPong(300);
      pair!.client.pong(Buffer.from('unsolicited')); // before any ping
      expect(connection.ping()).toBe(true);
      pair!.client.pong(Buffer.from('guess'));
      await new Promise((r) => setTimeout(r, 100));
      expect(connection.pingSentAt).not.toBeNull();
      expect(await answered).toBe(false);
      // Reading again, the ws client answers the outstanding ping itself, echoing its payload.
      const real = connection.waitForPong(2000);
      pair!.client.resume();
      expect(await real).toBe(true);
      expect(connection.pingSentAt).toBeNull();
    });

    it('drops connections whose socket closed', async () => {
      harness = await SocketHarness.start();
      const service = new HeartbeatService(resolveWsManagerOptions({ heartbeatIntervalMs: 100 }), new ManagerLifecycleService());
      const pairs = await harness.connectMany(3);
      for (const p of pairs) service.track(new ManagedConnection(p.server, 'u'));
      pairs[1]!.client.close();
      await closedOnServer(pairs[1]!);
      for (let t = 0; t < 20; t++) service.tick();
      expect(service.size).toBe(2);
    });
  });

  describe('on its timer', () => {
    const INTERVAL = 100;
    const TIMEOUT = 50;

    async function setup(): Promise<ManagerTestBed> {
      harness = await SocketHarness.start();
      bed = await createManagerTestBed({ heartbeatIntervalMs: INTERVAL, heartbeatTimeoutMs: TIMEOUT });
      return bed;
    }

    it('terminates a client that does not answer pings within interval + timeout and emits heartbeat_terminated', async () => {
      const b = await setup();
      const recorder = recordEvents(b);
      const started = Date.now();
      const [silent] = await admitMany(b, harness, 'u', 1, { prefix: 'silent', client: { autoPong: false } });
      const closed = closeOf(silent!);
      const { code } = await closed;
      const elapsed = Date.now() - started;
      expect(code).toBe(1006); // terminated: no close frame
      expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT);
      expect(elapsed).toBeLessThan(INTERVAL + TIMEOUT + 2000); // generous: a loaded machine delays timers
      expect(silent!.admission.connection.pongMissed).toBe(true);
      await waitFor(() => recorder.events.some((e) => e.type === 'heartbeat_terminated'), 2000, 'heartbeat_terminated');
      const event = recorder.events.find((e) => e.type === 'heartbeat_terminated') as Extract<ManagerLifecycleEvent, { type: 'heartbeat_terminated' }>;
      expect(event).toMatchObject({ userId: 'u', connectionId: silent!.admission.connection.id });
      recorder.stop();
    });

    it('never terminates a client that answers', async () => {
      const b = await setup();
      const recorder = recordEvents(b);
      const [normal] = await admitMany(b, harness, 'u', 1);
      let pings = 0;
      normal!.client.on('ping', () => pings++);
      await waitFor(() => pings >= 4, 10_000, 'four heartbeat pings');
      expect(normal!.client.readyState).toBe(normal!.client.OPEN);
      expect(normal!.admission.connection.pongMissed).toBe(false);
      expect(recorder.events.filter((e) => e.type === 'heartbeat_terminated')).toEqual([]);
      expect(b.module.get(HeartbeatService).size).toBe(1);
      recorder.stop();
    });

    it('drops closed connections from the wheel without a release', async () => {
      const b = await setup();
      const heartbeat = b.module.get(HeartbeatService);
      const pairs = await admitMany(b, harness, 'u', 3);
      expect(heartbeat.size).toBe(3);
      pairs[0]!.client.close();
      await waitFor(() => heartbeat.size === 2, 5000, 'the closed connection to leave the wheel');
      await b.factory.release(pairs[1]!.server);
      expect(heartbeat.size).toBe(1);
    });
  });
});
