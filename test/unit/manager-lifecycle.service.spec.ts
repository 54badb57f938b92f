import { Logger } from '@nestjs/common';
import { filter, map } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ManagerLifecycleEvent } from '../../src/lifecycle/manager-lifecycle.event.js';
import { ManagerLifecycleService } from '../../src/lifecycle/manager-lifecycle.service.js';

const tick = () => new Promise((resolve) => setTimeout(resolve, 20));
const detached = (userId: string) => ({ type: 'detached', userId, managerId: 'm', context: 'c' }) as const;

// rxjs rethrows a subscriber's error on a timer: an uncaught exception that ends a Node process
// (and fails this run as an unhandled error). These tests pass only if nothing escapes.
describe('ManagerLifecycleService', () => {
  afterEach(() => vi.restoreAllMocks());

  describe('#events$', () => {
    it('survives a throwing subscriber: logged once, it keeps its subscription, the others get every event', async () => {
      const errors = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
      const uncaught = vi.fn<(error: unknown) => void>();
      process.on('uncaughtException', uncaught);
      try {
        const lifecycle = new ManagerLifecycleService();
        const seenByThrower: string[] = [];
        const seenByOther: string[] = [];
        lifecycle.events$.subscribe((event) => {
          seenByThrower.push((event as { userId: string }).userId);
          throw new Error('subscriber bug');
        });
        lifecycle.events$.subscribe((event: ManagerLifecycleEvent) => seenByOther.push((event as { userId: string }).userId));
        for (const user of ['a', 'b', 'c']) lifecycle.emit(detached(user));
        await tick();
        expect(seenByOther).toEqual(['a', 'b', 'c']);
        expect(seenByThrower).toEqual(['a', 'b', 'c']);
        expect(errors).toHaveBeenCalledTimes(1);
        expect(String(errors.mock.calls[0]![0])).toContain('subscriber bug');
        expect(uncaught).not.toHaveBeenCalled();
      } finally {
        process.off('uncaughtException', uncaught);
      }
    });

    it('guards piped subscriptions too, and an operator that throws ends only that subscription', async () => {
      const errors = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
      const lifecycle = new ManagerLifecycleService();
      const piped: string[] = [];
      const plain: string[] = [];
      lifecycle.events$.pipe(filter((e) => e.type === 'detached')).subscribe(() => {
        throw new Error('piped subscriber bug');
      });
      const operatorThrows = lifecycle.events$
        .pipe(
          map((e) => {
            if ((e as { userId: string }).userId === 'b') throw new Error('operator bug');
            return e;
          }),
        )
        .subscribe((e) => piped.push((e as { userId: string }).userId));
      lifecycle.events$.subscribe((e) => plain.push((e as { userId: string }).userId));
      for (const user of ['a', 'b', 'c']) lifecycle.emit(detached(user));
      await tick();
      expect(plain).toEqual(['a', 'b', 'c']);
      expect(piped).toEqual(['a']);
      expect(operatorThrows.closed).toBe(true);
      expect(errors).toHaveBeenCalledTimes(2);
    });

    it('still hands errors to a subscriber that has its own error callback', () => {
      const lifecycle = new ManagerLifecycleService();
      const onError = vi.fn<(error: unknown) => void>();
      lifecycle.events$
        .pipe(
          map(() => {
            throw new Error('x');
          }),
        )
        .subscribe({ error: onError });
      lifecycle.emit(detached('a'));
      expect(onError).toHaveBeenCalledWith(expect.objectContaining({ message: 'x' }));
    });
  });

  describe('#listen', () => {
    it('calls listeners synchronously in order; a throwing one is logged once and keeps listening; unsubscribe stops it', () => {
      const errors = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
      const lifecycle = new ManagerLifecycleService();
      const seen: string[] = [];
      const thrower = lifecycle.listen((event) => {
        seen.push(`thrower:${(event as { userId: string }).userId}`);
        throw new Error('listener bug');
      });
      const other = lifecycle.listen((event) => seen.push(`other:${(event as { userId: string }).userId}`));
      lifecycle.emit(detached('a'));
      lifecycle.emit(detached('b'));
      expect(seen).toEqual(['thrower:a', 'other:a', 'thrower:b', 'other:b']);
      expect(errors).toHaveBeenCalledTimes(1);
      thrower.unsubscribe();
      lifecycle.emit(detached('c'));
      expect(seen.at(-1)).toBe('other:c');
      expect(seen).not.toContain('thrower:c');
      other.unsubscribe();
      lifecycle.emit(detached('d'));
      expect(seen).toHaveLength(5);
    });

    it('a listener that unsubscribes another during an emit does not skip or repeat anyone in that emit', () => {
      const lifecycle = new ManagerLifecycleService();
      const seen: string[] = [];
      let second: { unsubscribe(): void } | undefined;
      lifecycle.listen(() => {
        seen.push('first');
        second?.unsubscribe();
      });
      second = lifecycle.listen(() => seen.push('second'));
      lifecycle.listen(() => seen.push('third'));
      lifecycle.emit(detached('a'));
      lifecycle.emit(detached('b'));
      expect(seen).toEqual(['first', 'second', 'third', 'first', 'third']);
    });

    it('stamps `at` on the event, copying a frozen one instead of throwing', () => {
      const lifecycle = new ManagerLifecycleService();
      const seen: ManagerLifecycleEvent[] = [];
      lifecycle.listen((event) => seen.push(event));
      const frozen = Object.freeze(detached('f'));
      lifecycle.emit(frozen);
      lifecycle.emit(detached('g'));
      expect(seen.map((e) => typeof e.at)).toEqual(['number', 'number']);
      expect(seen[0]).not.toBe(frozen);
      expect((seen[0] as { userId: string }).userId).toBe('f');
    });

    it('completes events$ subscribers when the module is destroyed', () => {
      const lifecycle = new ManagerLifecycleService();
      const complete = vi.fn<() => void>();
      lifecycle.events$.subscribe({ complete });
      lifecycle.onModuleDestroy();
      expect(complete).toHaveBeenCalledTimes(1);
    });
  });
});
