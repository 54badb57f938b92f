import type { CallHandler, ExecutionContext } from '@nestjs/common';
import { defer, firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  EmergencyCleanupInterceptor,
  ManagerLimitExceededError,
  type CleanupReport,
  type EmergencyCleanupService,
  type WebSocketManagerFactory,
} from '../../src/index.js';
import { admitMany, recordEvents } from '../support/fixtures.js';
import { closedOnServer, destroyTcp, SocketHarness } from '../support/socket-harness.js';
import { createManagerTestBed, type ManagerTestBed } from '../support/testing-module.js';

const REPORT: CleanupReport = {
  trigger: 'emergency',
  userId: 'u',
  needed: 1,
  freed: true,
  detected: 1,
  removed: 1,
  probe: null,
  levels: [],
  durationMs: 1,
};
const context = {} as ExecutionContext;
const limitError = (active = 5) => new ManagerLimitExceededError('u', 5, active, 1500);

/** A CallHandler like Nest's: each subscription runs the handler again. */
function handlerOf(...outcomes: (() => unknown)[]): { next: CallHandler; calls: () => number } {
  let calls = 0;
  const next: CallHandler = { handle: () => defer(async () => outcomes[Math.min(calls++, outcomes.length - 1)]!()) };
  return { next, calls: () => calls };
}

function setupInterceptor(report: Promise<CleanupReport> = Promise.resolve(REPORT)) {
  const emergency = vi.fn<(userId: string) => Promise<CleanupReport>>(() => report);
  const reportRejection = vi.fn<(error: ManagerLimitExceededError) => void>();
  const interceptor = new EmergencyCleanupInterceptor(
    { emergency } as unknown as EmergencyCleanupService,
    { reportRejection } as unknown as WebSocketManagerFactory,
  );
  return { interceptor, emergency, reportRejection };
}

describe('EmergencyCleanupInterceptor', () => {
  describe('#intercept', () => {
    it('passes a successful answer through without cleanup', async () => {
      const { interceptor, emergency } = setupInterceptor();
      const { next, calls } = handlerOf(() => ({ event: 'joined', data: { cleanup: null } }));
      expect(await firstValueFrom(interceptor.intercept(context, next))).toEqual({ event: 'joined', data: { cleanup: null } });
      expect(emergency).not.toHaveBeenCalled();
      expect(calls()).toBe(1);
    });

    it('on ManagerLimitExceededError runs cleanup once for that user, retries once and fills data.cleanup', async () => {
      const { interceptor, emergency, reportRejection } = setupInterceptor();
      const { next, calls } = handlerOf(
        () => {
          throw limitError();
        },
        () => ({ event: 'joined', data: { context: 'two', cleanup: null } }),
      );
      const values = await lastValueFrom(interceptor.intercept(context, next).pipe(toArray()));
      expect(values).toEqual([{ event: 'joined', data: { context: 'two', cleanup: REPORT } }]);
      expect(reportRejection).not.toHaveBeenCalled();
      expect(emergency).toHaveBeenCalledTimes(1);
      expect(emergency).toHaveBeenCalledWith('u');
      expect(calls()).toBe(2);
    });

    it('leaves a retried answer without a null cleanup field as it is', async () => {
      const { interceptor } = setupInterceptor();
      const { next } = handlerOf(
        () => {
          throw limitError();
        },
        () => 'plain',
      );
      expect(await firstValueFrom(interceptor.intercept(context, next))).toBe('plain');
    });

    it('answers MANAGER_LIMIT_REACHED when the retry fails too, without a third attempt', async () => {
      const { interceptor, emergency, reportRejection } = setupInterceptor();
      const { next, calls } = handlerOf(
        () => {
          throw limitError(5);
        },
        () => {
          throw new ManagerLimitExceededError('u', 5, 5, 2500);
        },
      );
      const values = await lastValueFrom(interceptor.intercept(context, next).pipe(toArray()));
      expect(values).toEqual([{ event: 'error', data: { code: 'MANAGER_LIMIT_REACHED', limit: 5, active: 5, retryAfterMs: 2500 } }]);
      expect(emergency).toHaveBeenCalledTimes(1);
      expect(calls()).toBe(2);
      expect(reportRejection).toHaveBeenCalledTimes(1);
      expect(reportRejection.mock.calls[0]![0]).toMatchObject({ retryAfterMs: 2500 });
    });

    it('lets other errors through untouched, first time or on retry', async () => {
      const { interceptor, emergency } = setupInterceptor();
      const boom = new Error('boom');
      const first = handlerOf(() => {
        throw boom;
      });
      await expect(firstValueFrom(interceptor.intercept(context, first.next))).rejects.toBe(boom);
      expect(emergency).not.toHaveBeenCalled();
      expect(first.calls()).toBe(1);

      const retry = handlerOf(
        () => {
          throw limitError();
        },
        () => {
          throw boom;
        },
      );
      await expect(firstValueFrom(interceptor.intercept(context, retry.next))).rejects.toBe(boom);
    });
  });

  describe('with the real cleanup and factory', () => {
    let harness: SocketHarness;
    let bed: ManagerTestBed;

    afterEach(async () => {
      await bed.close();
      await harness.close();
    });

    it('frees a slot held by a zombie and admits on the retry', async () => {
      harness = await SocketHarness.start();
      bed = await createManagerTestBed({ maxManagersPerUser: 3, probeTimeoutMs: 200 });
      const pairs = await admitMany(bed, harness, 'u', 3);
      destroyTcp(pairs[1]!.client);
      await closedOnServer(pairs[1]!);
      const joining = await harness.connect();
      const interceptor = bed.module.get(EmergencyCleanupInterceptor);
      const next: CallHandler = {
        handle: () =>
          defer(async () => {
            const a = await bed.factory.acquire({ userId: 'u', context: 'two', socket: joining.server, emergencyCleanup: false });
            return { event: 'joined', data: { managerId: a.manager.id, resumed: a.resumed, active: a.active, cleanup: a.cleanup } };
          }),
      };
      const answer = (await firstValueFrom(interceptor.intercept(context, next))) as { event: string; data: { cleanup: CleanupReport } };
      expect(answer).toMatchObject({ event: 'joined', data: { resumed: false, active: 3 } });
      expect(answer.data.cleanup).toMatchObject({ trigger: 'emergency', userId: 'u', removed: 1, freed: true });
      expect(await bed.registry.countByUser('u')).toBe(3);
    });

    it('answers MANAGER_LIMIT_REACHED and reports one rejection when every manager is healthy', async () => {
      harness = await SocketHarness.start();
      bed = await createManagerTestBed({ maxManagersPerUser: 2, probeTimeoutMs: 200 });
      await admitMany(bed, harness, 'u', 2);
      const joining = await harness.connect();
      const recorder = recordEvents(bed);
      const next: CallHandler = {
        handle: () => defer(() => bed.factory.acquire({ userId: 'u', context: 'three', socket: joining.server, emergencyCleanup: false })),
      };
      const answer = await firstValueFrom(bed.module.get(EmergencyCleanupInterceptor).intercept(context, next));
      expect(answer).toEqual({ event: 'error', data: { code: 'MANAGER_LIMIT_REACHED', limit: 2, active: 2, retryAfterMs: null, reason: 'sessions_in_use' } });
      expect(recorder.events.filter((e) => e.type === 'rejected')).toEqual([expect.objectContaining({ userId: 'u', context: 'three' })]);
      expect(recorder.events.filter((e) => e.type === 'cleanup')).toHaveLength(1);
      recorder.stop();
      expect(await bed.registry.countByUser('u')).toBe(2);
    });
  });
});
