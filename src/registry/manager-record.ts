/** What the registry knows of one manager: enough to count it, find it and judge it remotely. */
export interface ManagerRecord {
  /** Globally unique manager id. */
  managerId: string;
  /** The authenticated user (JWT `sub`). */
  userId: string;
  /** Client-chosen session id, unique per user. */
  context: string;
  /** Instance that holds the manager's sockets. */
  nodeId: string;
  /** Epoch ms of creation. */
  createdAt: number;
  /** Epoch ms of the last inbound application message (as last reported by the owner). */
  lastActivityAt: number;
  /** Epoch ms the manager lost its last connection; `null` while connected. */
  detachedAt: number | null;
}

/** Fields the owner may update after admission. */
export type ManagerRecordPatch = Partial<Pick<ManagerRecord, 'lastActivityAt' | 'detachedAt'>>;
