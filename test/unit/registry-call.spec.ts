import { describe, expect, it } from 'vitest';
import { RegistryReplyError } from '../../src/errors/registry-reply.error.js';
import { RegistryUnavailableError } from '../../src/errors/registry-unavailable.error.js';
import { callRegistry } from '../../src/registry/registry-call.js';

const never = () => new Promise<never>(() => undefined);
const later = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

describe('callRegistry', () => {
  it('answers what the registry answers', async () => {
    await expect(callRegistry('admit', 1000, () => Promise.resolve(42))).resolves.toBe(42);
  });

  it('turns a reply error into RegistryReplyError naming the operation, and passes outage errors through', async () => {
    const reply = await callRegistry('admit', 1000, () => Promise.reject(new Error('WRONGTYPE'))).catch((e: unknown) => e);
    expect(reply).toBeInstanceOf(RegistryReplyError);
    expect(String((reply as Error).message)).toContain('admit');
    const outage = new RegistryUnavailableError(new Error('down'));
    await expect(callRegistry('admit', 1000, () => Promise.reject(outage))).rejects.toBe(outage);
    const thrown = await callRegistry('update', 1000, () => {
      throw new Error('sync');
    }).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(RegistryReplyError);
  });

  it('gives up on a call that never settles, each after its own timeout, while others in flight answer', async () => {
    const started = Date.now();
    const results = await Promise.allSettled([
      callRegistry('a', 50, never),
      callRegistry('b', 150, never),
      callRegistry('c', 1000, () => later(20, 'c')),
      callRegistry('d', 30, () => later(5, 'd')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'fulfilled', 'fulfilled']);
    expect((results[0] as PromiseRejectedResult).reason).toBeInstanceOf(RegistryUnavailableError);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(RegistryUnavailableError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(145);
    // A call after the timer went idle is bounded again.
    await expect(callRegistry('e', 20, never)).rejects.toBeInstanceOf(RegistryUnavailableError);
  });

  it('an answer after the deadline is ignored (the caller already saw the outage)', async () => {
    await expect(callRegistry('slow', 20, () => later(60, 'late'))).rejects.toBeInstanceOf(RegistryUnavailableError);
    await later(80, undefined);
  });
});
