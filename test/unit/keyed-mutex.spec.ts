import { describe, expect, it, vi } from 'vitest';
import { KeyedMutex } from '../../src/managers/keyed-mutex.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('KeyedMutex', () => {
  it('runs the sections of one key one after another, in order, and forgets the key when idle', async () => {
    const mutex = new KeyedMutex();
    const log: string[] = [];
    const section = (name: string) => async () => {
      log.push(`${name}:start`);
      await tick();
      log.push(`${name}:end`);
      return name;
    };
    const results = await Promise.all([mutex.run('u', section('a')), mutex.run('u', section('b')), mutex.run('u', section('c'))]);
    expect(results).toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['a:start', 'a:end', 'b:start', 'b:end', 'c:start', 'c:end']);
    await tick();
    expect(mutex.isBusy('u')).toBe(false);
  });

  it('lets other keys run meanwhile', async () => {
    const mutex = new KeyedMutex();
    const log: string[] = [];
    let release!: () => void;
    const held = mutex.run('u', () => new Promise<void>((resolve) => (release = resolve)).then(() => log.push('u')));
    await mutex.run('v', async () => log.push('v'));
    expect(log).toEqual(['v']);
    expect(mutex.isBusy('u')).toBe(true);
    release();
    await held;
    expect(log).toEqual(['v', 'u']);
  });

  it('a failing section (rejected or thrown synchronously) fails its caller only; the next runs', async () => {
    const mutex = new KeyedMutex();
    const rejected = mutex.run('u', () => Promise.reject(new Error('boom')));
    const thrown = mutex.run('u', () => {
      throw new Error('sync boom');
    });
    const next = mutex.run('u', async () => 'next');
    await expect(rejected).rejects.toThrow('boom');
    await expect(thrown).rejects.toThrow('sync boom');
    await expect(next).resolves.toBe('next');
    const alone = mutex.run('w', () => {
      throw new Error('first and sync');
    });
    await expect(alone).rejects.toThrow('first and sync');
    expect(mutex.isBusy('w')).toBe(false);
  });

  it('a section that never settles holds the key only until the backstop, which is reported', async () => {
    const expired = vi.fn<(key: string) => void>();
    const mutex = new KeyedMutex(50, expired);
    void mutex.run('u', () => new Promise(() => undefined));
    await expect(mutex.run('u', async () => 'ran anyway')).resolves.toBe('ran anyway');
    expect(expired).toHaveBeenCalledWith('u');
  });

  it('runNow runs a synchronous section at once, holding the key: what queues from inside it runs after it', async () => {
    const mutex = new KeyedMutex();
    const log: string[] = [];
    let queued: Promise<unknown> | undefined;
    const value = mutex.runNow('u', () => {
      log.push('now:start');
      queued = mutex.run('u', async () => log.push('queued'));
      expect(mutex.isBusy('u')).toBe(true);
      log.push('now:end');
      return 42;
    });
    expect(value).toBe(42);
    await queued;
    expect(log).toEqual(['now:start', 'now:end', 'queued']);
    expect(() => mutex.runNow('v', () => {
      throw new Error('section failed');
    })).toThrow('section failed');
    expect(mutex.isBusy('v')).toBe(false);
    let release!: () => void;
    const held = mutex.run('w', () => new Promise<void>((resolve) => (release = resolve)));
    expect(() => mutex.runNow('w', () => 1)).toThrow(/held/);
    release();
    await held;
  });
});
