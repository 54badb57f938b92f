/** Health of a manager, worst first. */
export enum HealthClass {
  /** Provably dead: sockets closed or gone, registry and sockets disagree, or past the resume window. */
  Zombie = 'zombie',
  /** A connection missed its pong deadline or failed the admission probe. */
  Unresponsive = 'unresponsive',
  /** No inbound application message for `inactiveThresholdMs`. */
  Inactive = 'inactive',
  /** No connection, still inside the resume window. */
  Detached = 'detached',
  /** Responsive, no inbound application message for `idleThresholdMs`. */
  Idle = 'idle',
  /** Everything else. */
  Healthy = 'healthy',
}

/** Stable reason codes behind a {@link HealthClass}; also the `reason` label of metrics. */
export enum HealthReason {
  /** Every tracked socket is CLOSING or CLOSED. */
  SocketsClosed = 'sockets_closed',
  /** The registry holds the manager for this instance, but no socket-holding manager exists here. */
  RegistryOrphan = 'registry_orphan',
  /** Detached for longer than the resume window. */
  ResumeWindowExpired = 'resume_window_expired',
  /** The owning instance's lease expired (cluster mode). */
  LeaseExpired = 'lease_expired',
  /** A ping went unanswered past the heartbeat timeout. */
  PongTimeout = 'pong_timeout',
  /** Silent through the admission-time liveness probe. */
  ProbeFailed = 'probe_failed',
  /** No inbound application message for the inactive threshold. */
  InactiveThreshold = 'inactive_threshold',
  /** No connection, inside the resume window. */
  Detached = 'detached',
  /** No inbound application message for the idle threshold. */
  IdleThreshold = 'idle_threshold',
  /** Chosen by `force` although healthy. */
  Forced = 'forced',
}

/** One manager's health, with the reasons and the facts it was judged from. */
export interface HealthAssessment {
  managerId: string;
  userId: string;
  context: string;
  nodeId: string;
  health: HealthClass;
  reasons: HealthReason[];
  /** Tracked connections (open or not) on the owning instance; `null` when judged remotely. */
  connections: number | null;
  /** Connections whose socket is OPEN; `null` when judged remotely. */
  openConnections: number | null;
  createdAt: number;
  lastActivityAt: number;
  detachedAt: number | null;
  /** Whether this instance holds the manager's sockets. */
  local: boolean;
}
