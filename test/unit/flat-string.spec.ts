import { describe, expect, it } from 'vitest';
import { randomId } from '../../src/managers/flat-string.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('randomId', () => {
  it('makes version-4 UUIDs, all different, across several refills of its random pool', () => {
    const ids = Array.from({ length: 2000 }, () => randomId());
    for (const id of ids) expect(id).toMatch(UUID_V4);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('uses every hex digit in the random positions (the bytes are random, not a counter)', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) for (const c of randomId().slice(0, 8)) seen.add(c);
    expect(seen.size).toBe(16);
  });
});
