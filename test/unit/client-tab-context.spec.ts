import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { StorageLike } from '../../src/client/index.js';
import { TabContext } from '../../src/client/tab-context.js';

/** A sessionStorage stand-in; `copy()` is what duplicating the tab does to it. */
class MemoryStorage implements StorageLike {
  constructor(readonly items = new Map<string, string>()) {}
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
  copy(): MemoryStorage {
    return new MemoryStorage(new Map(this.items));
  }
}

// The page lifecycle is simulated: `pagehide` handlers are captured from addEventListener. The
// browser test (test/e2e/client-browser.spec.ts) covers the same in Chromium.
describe('TabContext', () => {
  let handlers: Map<string, ((event: { persisted?: boolean }) => void)[]>;
  beforeEach(() => {
    handlers = new Map();
    vi.stubGlobal('addEventListener', (type: string, fn: (event: { persisted?: boolean }) => void) => handlers.set(type, [...(handlers.get(type) ?? []), fn]));
    vi.stubGlobal('removeEventListener', (type: string, fn: unknown) => handlers.set(type, (handlers.get(type) ?? []).filter((f) => f !== fn)));
  });
  afterEach(() => vi.unstubAllGlobals());
  const fire = (type: string, event: { persisted?: boolean } = {}) => handlers.get(type)?.forEach((fn) => fn(event));
  /** What another document (a duplicated tab) wrote as its owner mark. */
  const otherDocument = (storage: MemoryStorage) => storage.setItem('k:tab', 'another-document');

  it('a first load has no context; the one the server confirms is kept', () => {
    const storage = new MemoryStorage();
    const tab = new TabContext(storage, 'k');
    expect(tab.context).toBeUndefined();
    tab.save('c1');
    expect(storage.getItem('k')).toBe('c1');
  });

  it('a reload (pagehide, then a new page) resumes the stored context', () => {
    const storage = new MemoryStorage();
    new TabContext(storage, 'k').save('c1');
    otherDocument(storage); // the reloaded page is another document...
    fire('pagehide'); // ...but the old one removed its mark as it went
    const reloaded = new TabContext(storage, 'k');
    expect({ context: reloaded.context, duplicated: reloaded.duplicated }).toEqual({ context: 'c1', duplicated: false });
  });

  it('a duplicated tab (sessionStorage copied while the original lives) drops the copied context', () => {
    const storage = new MemoryStorage();
    new TabContext(storage, 'k').save('c1');
    const copy = storage.copy();
    otherDocument(copy); // the copy carries the live original's mark, which is not this document's
    const duplicate = new TabContext(copy, 'k');
    expect({ context: duplicate.context, duplicated: duplicate.duplicated }).toEqual({ context: undefined, duplicated: true });
    expect(copy.getItem('k')).toBeNull();
    expect(storage.getItem('k')).toBe('c1'); // the original's storage is untouched
  });

  it('a second client in the same document (React Strict Mode) keeps the context', () => {
    const storage = new MemoryStorage();
    new TabContext(storage, 'k').save('c1');
    const again = new TabContext(storage, 'k');
    expect({ context: again.context, duplicated: again.duplicated }).toEqual({ context: 'c1', duplicated: false });
  });

  it('a page restored from the back/forward cache marks itself again; dispose stops listening', () => {
    const storage = new MemoryStorage();
    const tab = new TabContext(storage, 'k');
    fire('pagehide');
    expect(storage.getItem('k:tab')).toBeNull();
    fire('pageshow', { persisted: true });
    expect(storage.getItem('k:tab')).not.toBeNull();
    tab.dispose();
    expect(handlers.get('pagehide')).toEqual([]);
  });
});
