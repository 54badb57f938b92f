import type { ManagerRecord, ManagerRecordPatch } from './manager-record.js';
import type { AdmitResult, EvictionRequest, ManagerRegistry, RecordPage } from './manager-registry.interface.js';

interface UserEntry {
  byId: Map<string, ManagerRecord>;
  byContext: Map<string, string>;
}

/**
 * Single-instance registry, the default. Admission is atomic because each call completes
 * synchronously inside one event-loop turn; lookups are per user, never across users.
 */
export class InMemoryManagerRegistry implements ManagerRegistry {
  readonly kind = 'memory';
  private readonly users = new Map<string, UserEntry>();
  private readonly byNode = new Map<string, Map<string, ManagerRecord>>();
  private readonly evictionHandlers = new Set<(request: EvictionRequest) => void>();
  private readonly messageHandlers = new Set<(message: string) => void>();
  private nodeId: string | undefined;
  private readonly scans = new Map<string, IterableIterator<ManagerRecord>>();
  private scanSeq = 0;

  async start(nodeId?: string): Promise<void> {
    this.nodeId = nodeId;
  }

  async close(): Promise<void> {
    this.evictionHandlers.clear();
    this.messageHandlers.clear();
  }

  async ping(): Promise<boolean> {
    return true;
  }

  async admit(record: ManagerRecord, limit: number): Promise<AdmitResult> {
    return this.admitNow(record, limit);
  }

  /**
   * {@link admit} without the promise, for callers in this process: the answer is decided and
   * applied within the call (the factory admits the common case without a turn of the loop).
   */
  admitNow(record: ManagerRecord, limit: number): AdmitResult {
    const user = this.users.get(record.userId);
    const same = user?.byId.get(record.managerId);
    if (same && user) {
      if (user.byId.size <= limit) return { admitted: false, active: user.byId.size, existing: { ...same } };
      this.removeNow(record.userId, record.managerId);
      return { admitted: false, active: user.byId.size };
    }
    const existingId = user?.byContext.get(record.context);
    const existing = existingId === undefined ? undefined : user?.byId.get(existingId);
    if (existing) return { admitted: false, active: user!.byId.size, existing: { ...existing } };
    const active = user?.byId.size ?? 0;
    if (active >= limit) return { admitted: false, active };
    this.insert(record);
    return { admitted: true, active: active + 1 };
  }

  async get(userId: string, managerId: string): Promise<ManagerRecord | null> {
    const record = this.users.get(userId)?.byId.get(managerId);
    return record ? { ...record } : null;
  }

  async findByContext(userId: string, context: string): Promise<ManagerRecord | null> {
    const user = this.users.get(userId);
    const id = user?.byContext.get(context);
    const record = id === undefined ? undefined : user?.byId.get(id);
    return record ? { ...record } : null;
  }

  async listByUser(userId: string): Promise<ManagerRecord[]> {
    return [...(this.users.get(userId)?.byId.values() ?? [])].map((r) => ({ ...r }));
  }

  async countByUser(userId: string): Promise<number> {
    return this.users.get(userId)?.byId.size ?? 0;
  }

  async update(userId: string, managerId: string, patch: ManagerRecordPatch): Promise<void> {
    const record = this.users.get(userId)?.byId.get(managerId);
    if (record) Object.assign(record, patch);
  }

  async remove(userId: string, managerId: string): Promise<boolean> {
    return this.removeNow(userId, managerId);
  }

  private removeNow(userId: string, managerId: string): boolean {
    const user = this.users.get(userId);
    const record = user?.byId.get(managerId);
    if (!user || !record) return false;
    user.byId.delete(managerId);
    if (user.byContext.get(record.context) === managerId) user.byContext.delete(record.context);
    if (user.byId.size === 0) this.users.delete(userId);
    const node = this.byNode.get(record.nodeId);
    node?.delete(managerId);
    if (node?.size === 0) this.byNode.delete(record.nodeId);
    return true;
  }

  async scanNode(nodeId: string, cursor: string | undefined, count: number): Promise<RecordPage> {
    // A live Map iterator per scan: each page is O(count), entries removed meanwhile are skipped,
    // and no snapshot of a million ids is allocated (it cost the 1M-manager sweep a GC pause).
    let key = cursor;
    let scan = key === undefined ? undefined : this.scans.get(key);
    if (!scan || key === undefined) {
      scan = (this.byNode.get(nodeId) ?? new Map<string, ManagerRecord>()).values();
      key = String(++this.scanSeq);
      this.scans.set(key, scan);
      if (this.scans.size > 16) this.scans.delete(this.scans.keys().next().value!);
    }
    const records: ManagerRecord[] = [];
    while (records.length < count) {
      const next = scan.next();
      if (next.done) {
        this.scans.delete(key);
        return { records };
      }
      // Not copied: a sweep pages through every record, and the copies were most of its garbage.
      records.push(next.value);
    }
    return { records, cursor: key };
  }

  async requestEviction(request: EvictionRequest): Promise<void> {
    for (const handler of this.evictionHandlers) handler(request);
  }

  onEvictionRequest(handler: (request: EvictionRequest) => void): () => void {
    this.evictionHandlers.add(handler);
    return () => this.evictionHandlers.delete(handler);
  }

  /**
   * Single instance: a message reaches this instance's handlers (asynchronously, as over Redis)
   * when addressed to its node id (or to any id before start); resolves with how many listen.
   */
  async sendToNode(nodeId: string, message: string): Promise<number> {
    if (this.nodeId !== undefined && nodeId !== this.nodeId) return 0;
    const handlers = [...this.messageHandlers];
    setImmediate(() => {
      for (const handler of handlers) {
        try {
          handler(message);
        } catch {
          // a handler's failure is its own business; the others still get the message
        }
      }
    });
    return handlers.length > 0 ? 1 : 0;
  }

  onNodeMessage(handler: (message: string) => void): () => void {
    this.messageHandlers.add(handler);
    return () => this.messageHandlers.delete(handler);
  }

  private insert(record: ManagerRecord): void {
    let user = this.users.get(record.userId);
    if (!user) this.users.set(record.userId, (user = { byId: new Map(), byContext: new Map() }));
    const stored = { ...record };
    user.byId.set(record.managerId, stored);
    user.byContext.set(record.context, record.managerId);
    let node = this.byNode.get(record.nodeId);
    if (!node) this.byNode.set(record.nodeId, (node = new Map()));
    node.set(record.managerId, stored);
  }
}
