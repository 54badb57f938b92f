import type { ManagerRecord, ManagerRecordPatch } from './manager-record.js';

/** Outcome of {@link ManagerRegistry.admit}. */
export interface AdmitResult {
  /** The record was added. */
  admitted: boolean;
  /** The user's managers counted after the decision (including the new one when admitted). */
  active: number;
  /** A manager of the same (user, context) already exists; nothing was added. */
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

/** Outcome of {@link ManagerRegistry.reRegister}. */
export interface ReRegisterResult {
  /** Records counted again (newly admitted, or still present). */
  admitted: ManagerRecord[];
  /** Records that no longer fit (limit reached, or context taken meanwhile): evict them with a reason. */
  refused: ManagerRecord[];
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
   * Atomically: when (user, context) already has a manager returns it as `existing`; otherwise
   * adds `record` if the user holds fewer than `limit` managers, else refuses.
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
   * Registries that can lose their store (Redis): calls `handler` each time the connection is
   * back after an outage, once this instance counts as alive again. Returns the unsubscribe.
   */
  onReconnect?(handler: () => void): () => void;
  /**
   * Registries that can lose their store (Redis): re-admits this instance's records after an
   * outage, each through the same atomic admission, so the limit still holds.
   */
  reRegister?(records: readonly ManagerRecord[], limit: number): Promise<ReRegisterResult>;
}
