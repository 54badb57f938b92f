import type { ManagerRecord, ManagerRecordPatch } from './manager-record.js';

/** Outcome of {@link ManagerRegistry.admit}. */
export interface AdmitResult {
  /** The record was added. */
  admitted: boolean;
  /** The user's managers counted after the decision (including the new one when admitted). */
  active: number;
  /**
   * Nothing was added because the registry already has this managerId (the record is confirmed:
   * it still counts) or another manager of the same (user, context).
   */
  existing?: ManagerRecord;
}

/** A request, made by cleanup on any instance, that the owner of a manager close it. */
export interface EvictionRequest {
  /** The record chosen for eviction. */
  record: ManagerRecord;
  /** Cleanup level that chose it. */
  level: string;
  /** Why it was chosen (a health reason code). */
  reason: string;
  /** Instance that made the request. */
  requestedBy: string;
}

/** One page of a scan. */
export interface RecordPage {
  /** Read-only views: an implementation may hand out its stored records without copying. */
  records: ReadonlyArray<Readonly<ManagerRecord>>;
  /** Pass back to get the next page; `undefined` when done. */
  cursor?: string;
}

/**
 * Where managers are counted. Every method is async so that the in-memory default and the Redis
 * cluster registry are interchangeable. Implementations must make {@link admit} atomic per user:
 * concurrent admissions never push a user over `limit`.
 */
export interface ManagerRegistry {
  /** Short name for logs and health (`memory`, `redis`). */
  readonly kind: string;
  /** Called once at module start with this instance's id; starts leases, subscriptions. */
  start(nodeId: string): Promise<void>;
  /** Releases timers and connections. Does not remove this instance's records. */
  close(): Promise<void>;
  /** Cheap reachability check for health endpoints. */
  ping(): Promise<boolean>;
  /**
   * Atomically, for one user:
   * - `record.managerId` is registered: while the user holds at most `limit` managers it is
   *   returned as `existing` (confirmed: it counts); past the limit (two instances admitted while
   *   one of them was cut off) it is removed and refused, so its holder evicts it;
   * - another manager holds (user, context): it is returned as `existing`, nothing is added;
   * - otherwise `record` is added if the user holds fewer than `limit` managers, else refused.
   */
  admit(record: ManagerRecord, limit: number): Promise<AdmitResult>;
  /** One record, or `null`. */
  get(userId: string, managerId: string): Promise<ManagerRecord | null>;
  /** The user's record for a context, or `null`. */
  findByContext(userId: string, context: string): Promise<ManagerRecord | null>;
  /** Every record of one user (never a scan over all users). */
  listByUser(userId: string): Promise<ManagerRecord[]>;
  /** How many managers the user holds. */
  countByUser(userId: string): Promise<number>;
  /** Updates owner-reported fields; a missing record is ignored. */
  update(userId: string, managerId: string, patch: ManagerRecordPatch): Promise<void>;
  /** Removes a record; `true` only for the call that actually removed it. */
  remove(userId: string, managerId: string): Promise<boolean>;
  /** Pages through the records held by one instance (reconciliation, sweeps). */
  scanNode(nodeId: string, cursor: string | undefined, count: number): Promise<RecordPage>;
  /** Asks the owner of `request.record` to close it (no-op for single-instance registries). */
  requestEviction(request: EvictionRequest): Promise<void>;
  /** Subscribes to eviction requests addressed to this instance; returns the unsubscribe. */
  onEvictionRequest(handler: (request: EvictionRequest) => void): () => void;
  /**
   * Registries that can lose this instance's entries (Redis: an outage, a lease that lapsed while
   * the instance or Redis was frozen, Redis restarted empty): calls `handler` once this instance
   * counts as alive again, so that it re-registers what it holds through {@link admit}.
   * Returns the unsubscribe.
   */
  onResync?(handler: () => void): () => void;
  /**
   * Registries with leases (Redis): every instance in the lease table and the milliseconds until
   * its lease runs out (≤ 0: lapsed, entries not reaped yet), by the registry's clock. Used to
   * tell a refused client when a silent instance's sessions stop counting.
   */
  leases?(): Promise<{ nodeId: string; remainingMs: number }[]>;
  /**
   * Registries with leases: gives each of `nodeIds` (instances holding entries the caller read)
   * that the lease table does not know a lease of one TTL. A node is missing only when the table
   * lost its data (its shard restarted empty): it may be alive, so it gets a whole lease to renew;
   * a dead one then lapses and its entries stop counting. Without this, a node that died while
   * missing counted as alive for good and its users stayed at their limit. Resolves with the
   * nodes given a lease.
   */
  adoptUnknownNodes?(nodeIds: readonly string[]): Promise<string[]>;
  /**
   * Sends an opaque message to the instance `nodeId` (cross-instance delivery and its replies):
   * at most once, no acknowledgement. Resolves with how many listeners received it, `0` when no
   * instance of that id listens (gone, or not started). Registries without it reach only this
   * instance.
   */
  sendToNode?(nodeId: string, message: string): Promise<number>;
  /** Subscribes to messages sent to this instance by {@link sendToNode}; returns the unsubscribe. */
  onNodeMessage?(handler: (message: string) => void): () => void;
}
