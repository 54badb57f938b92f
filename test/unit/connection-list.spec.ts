import { describe, expect, it } from 'vitest';
import { ConnectionList } from '../../src/managers/connection-list.js';
import type { ManagedConnection } from '../../src/managers/managed-connection.js';

const connection = (name: string) => ({ name }) as unknown as ManagedConnection;

describe('ConnectionList', () => {
  it('keeps connections oldest first through none, one and many, like a Set', () => {
    const list = new ConnectionList();
    const [a, b, c] = [connection('a'), connection('b'), connection('c')];
    expect(list.size).toBe(0);
    expect([...list]).toEqual([]);
    list.add(a).add(a);
    expect(list.size).toBe(1);
    expect(list.has(a)).toBe(true);
    expect(list.has(b)).toBe(false);
    list.add(b).add(c).add(b);
    expect([...list]).toEqual([a, b, c]);
    expect(list.oldest()).toBe(a);
    expect(list.delete(a)).toBe(true);
    expect(list.delete(a)).toBe(false);
    expect([...list]).toEqual([b, c]);
    expect(list.delete(c)).toBe(true);
    expect([...list]).toEqual([b]);
    expect(list.has(b)).toBe(true);
    list.clear();
    expect(list.size).toBe(0);
    expect(list.oldest()).toBeUndefined();
  });

  it('lets a loop remove connections while it iterates (it walks a snapshot)', () => {
    const list = new ConnectionList();
    const all = ['a', 'b', 'c'].map(connection);
    for (const c of all) list.add(c);
    const seen: ManagedConnection[] = [];
    for (const c of list) {
      seen.push(c);
      list.delete(c);
    }
    expect(seen).toEqual(all);
    expect(list.size).toBe(0);
  });
});
