import { platform, randomId, type StorageLike } from './environment.js';

// One id per document (per page load), shared by every copy of the client bundled into the page.
const DOCUMENT_ID = Symbol.for('nestjs-websocket-manager/client:document');

function documentId(): string {
  const g = globalThis as { [DOCUMENT_ID]?: string };
  return (g[DOCUMENT_ID] ??= randomId());
}

/**
 * The context of this tab, kept in `sessionStorage` under `key` so that a refresh resumes the
 * same manager. A duplicated tab (or a `window.open` of the page) starts with a copy of the
 * original's `sessionStorage`; the copy is told apart by an owner mark: each page writes its
 * document id under `key:tab` and removes it on `pagehide`. A reload therefore finds the mark gone,
 * while a duplicate finds the mark of a page that is still alive and starts a new context instead
 * of taking over (and superseding) the original's. Synchronous: nothing to wait for before connecting.
 */
export class TabContext {
  private readonly owner: string;
  private readonly onHide = (): void => this.storage.removeItem(this.owner);
  private readonly onShow = (event: { persisted?: boolean }): void => {
    if (event.persisted) this.storage.setItem(this.owner, documentId());
  };

  /** Whether this tab found and dropped a context copied from a live tab. */
  readonly duplicated: boolean;
  /** The stored context, if this tab has one. */
  context: string | undefined;

  constructor(
    private readonly storage: StorageLike,
    private readonly key: string,
  ) {
    this.owner = `${key}:tab`;
    const mark = storage.getItem(this.owner);
    this.context = storage.getItem(key) ?? undefined;
    this.duplicated = this.context !== undefined && mark !== null && mark !== documentId();
    if (this.duplicated) {
      this.context = undefined;
      storage.removeItem(key);
    }
    storage.setItem(this.owner, documentId());
    platform.addEventListener?.('pagehide', this.onHide);
    platform.addEventListener?.('pageshow', this.onShow);
  }

  /** Remembers the context the server confirmed (it makes one when none was asked for). */
  save(context: string): void {
    this.context = context;
    this.storage.setItem(this.key, context);
  }

  /** Stops listening; the stored context stays for the next page load. */
  dispose(): void {
    platform.removeEventListener?.('pagehide', this.onHide);
    platform.removeEventListener?.('pageshow', this.onShow);
  }
}
