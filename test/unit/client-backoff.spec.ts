import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../bench/lib/seeded-random.js';
import { backoffDelay, CLIENT_DEFAULTS } from '../../src/client/index.js';

/** Every failing case can be replayed from its seed. */
const seeded = mulberry32;

// Property tests of the full-jitter backoff: many random (attempt, base, cap) cases from seeds.
describe('backoffDelay', () => {
  const CASES = 5000;

  it('is a whole number of ms in [0, min(cap, base · 2^attempt)] for every attempt, even huge ones', () => {
    const pick = seeded(1);
    for (let i = 0; i < CASES; i++) {
      const baseMs = 1 + Math.floor(pick() * 5000);
      const capMs = baseMs + Math.floor(pick() * 120_000);
      const attempt = i % 10 === 0 ? Math.floor(pick() * 1e6) : Math.floor(pick() * 40);
      const delay = backoffDelay(attempt, { baseMs, capMs }, seeded(i));
      const ceiling = Math.min(capMs, baseMs * 2 ** attempt);
      expect(Number.isInteger(delay), `seed ${i}`).toBe(true);
      expect(delay, `seed ${i}: attempt ${attempt} base ${baseMs} cap ${capMs}`).toBeGreaterThanOrEqual(0);
      expect(delay, `seed ${i}: attempt ${attempt} base ${baseMs} cap ${capMs}`).toBeLessThanOrEqual(ceiling);
    }
  });

  it('never exceeds the cap, and its ceiling never shrinks as attempts grow', () => {
    const pick = seeded(2);
    for (let i = 0; i < 200; i++) {
      const o = { baseMs: 1 + Math.floor(pick() * 1000), capMs: 1000 + Math.floor(pick() * 60_000) };
      let previous = 0;
      for (let attempt = 0; attempt < 64; attempt++) {
        const ceiling = backoffDelay(attempt, o, () => 0.999999) + 1;
        expect(ceiling).toBeGreaterThanOrEqual(previous);
        expect(ceiling - 1).toBeLessThan(o.capMs);
        previous = ceiling;
      }
    }
  });

  it('is full jitter: draws spread over the whole window (near 0 and near the ceiling, mean about half)', () => {
    for (const attempt of [0, 3, 6, 20]) {
      const random = seeded(100 + attempt);
      const { baseMs, capMs } = CLIENT_DEFAULTS;
      const ceiling = Math.min(capMs, baseMs * 2 ** attempt);
      const draws = Array.from({ length: 4000 }, () => backoffDelay(attempt, { baseMs, capMs }, random));
      const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
      expect(Math.min(...draws)).toBeLessThan(ceiling * 0.01);
      expect(Math.max(...draws)).toBeGreaterThan(ceiling * 0.99);
      expect(Math.abs(mean / ceiling - 0.5)).toBeLessThan(0.03);
    }
  });

  it('defaults: 500 ms base, 20 s cap (centrifuge-js)', () => {
    expect(backoffDelay(0, CLIENT_DEFAULTS, () => 0.999999)).toBe(499);
    expect(backoffDelay(100, CLIENT_DEFAULTS, () => 0.999999)).toBe(19_999);
  });
});
