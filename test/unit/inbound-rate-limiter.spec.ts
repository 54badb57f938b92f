import type { WebSocket } from 'ws';
import { describe, expect, it } from 'vitest';
import { InboundRateLimiter, type InboundBudget } from '../../src/gateway/inbound-rate-limiter.js';

const budget: InboundBudget = { inboundRatePerConnection: 10, inboundBurstPerConnection: 20, inboundRatePerUser: 30, inboundBurstPerUser: 40 };
const socket = () => ({}) as WebSocket;

function limiter(b: InboundBudget = budget) {
  const clock = { now: 0 };
  return { clock, limiter: new InboundRateLimiter(b, () => clock.now) };
}

describe('InboundRateLimiter', () => {
  describe('#check', () => {
    it('delivers a burst, then warns once, drops silently, and closes after a further burst', () => {
      const { limiter: l } = limiter();
      const s = socket();
      l.register(s, 'u');
      const verdicts = Array.from({ length: 20 + 1 + 20 + 1 }, () => l.check(s));
      expect(verdicts.slice(0, 20).every((v) => v.action === 'deliver')).toBe(true);
      expect(verdicts[20]).toEqual({ action: 'drop', warn: true, scope: 'connection', userId: 'u', refillMs: 1000 }); // 10 of 20 tokens at 10/s
      expect(verdicts.slice(21, 40).every((v) => v.action === 'drop' && !v.warn)).toBe(true);
      expect(verdicts.at(-1)).toEqual({ action: 'close', scope: 'connection', userId: 'u' });
    });

    it('refills at the rate and warns again only after the bucket is back to half full', () => {
      const { limiter: l, clock } = limiter();
      const s = socket();
      l.register(s, 'u');
      for (let i = 0; i < 21; i++) l.check(s); // burst spent, warned
      clock.now += 500; // 5 tokens: below half, still limited
      for (let i = 0; i < 5; i++) expect(l.check(s).action).toBe('deliver');
      expect(l.check(s)).toMatchObject({ action: 'drop', warn: false });
      clock.now += 2000; // full again
      for (let i = 0; i < 20; i++) expect(l.check(s).action).toBe('deliver');
      expect(l.check(s)).toMatchObject({ action: 'drop', warn: true });
    });

    it('shares the user bucket across that user\'s connections, and not with other users', () => {
      const { limiter: l } = limiter();
      const [a, b, c, other] = [socket(), socket(), socket(), socket()];
      for (const s of [a, b, c]) l.register(s, 'flooder');
      l.register(other, 'bystander');
      let delivered = 0;
      for (let i = 0; i < 20; i++) for (const s of [a, b, c]) if (l.check(s).action === 'deliver') delivered++;
      expect(delivered).toBe(40); // the user's burst, not 3 × 20
      expect(l.check(c)).toMatchObject({ action: 'drop', scope: 'user' });
      expect(l.check(other)).toEqual({ action: 'deliver' });
    });

    it('does not budget sockets it was not told about, nor anything when both rates are 0', () => {
      const { limiter: l } = limiter({ ...budget, inboundRatePerConnection: 0, inboundRatePerUser: 0 });
      const s = socket();
      l.register(s, 'u');
      for (let i = 0; i < 1000; i++) expect(l.check(s).action).toBe('deliver');
      expect(l.trackedUsers).toBe(0);
    });
  });

  describe('#unregister', () => {
    it('forgets a user with their last connection, so memory follows the connected users', () => {
      const { limiter: l } = limiter();
      const sockets = Array.from({ length: 1000 }, socket);
      sockets.forEach((s, i) => l.register(s, `u${i % 100}`));
      expect(l.trackedUsers).toBe(100);
      sockets.slice(0, 990).forEach((s) => l.unregister(s));
      expect(l.trackedUsers).toBe(10);
      sockets.forEach((s) => l.unregister(s));
      expect(l.trackedUsers).toBe(0);
    });
  });
});
