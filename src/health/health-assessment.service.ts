import { Inject, Injectable } from '@nestjs/common';
import { MANAGER_REGISTRY, WS_MANAGER_OPTIONS } from '../config/ws-manager.constants.js';
import type { ResolvedWsManagerOptions } from '../config/ws-manager.options.js';
import { LocalManagerStore } from '../managers/local-manager.store.js';
import type { WebSocketManager } from '../managers/websocket-manager.js';
import type { ManagerRecord } from '../registry/manager-record.js';
import type { ManagerRegistry } from '../registry/manager-registry.interface.js';
import { callRegistry } from '../registry/registry-call.js';
import { HealthClass, HealthReason, type HealthAssessment } from './health-class.js';

/**
 * Classifies managers from the real socket state (readyState, missed pong deadline, probe
 * result) first and activity stamps second: a closed socket with a fresh activity stamp is
 * still a zombie. Pure reads; never changes anything.
 */
@Injectable()
export class HealthAssessmentService {
  /** When this process started judging: entries of this node made before it were made by the process before. */
  private readonly startedAt = Date.now();

  constructor(
    @Inject(WS_MANAGER_OPTIONS) private readonly options: ResolvedWsManagerOptions,
    @Inject(MANAGER_REGISTRY) private readonly registry: ManagerRegistry,
    private readonly store: LocalManagerStore,
  ) {}

  /** Every manager of one user, from the registry joined with this instance's sockets. */
  async assessUser(userId: string, now = Date.now()): Promise<HealthAssessment[]> {
    const records = await callRegistry('listByUser', this.options.registryTimeoutMs, () => this.registry.listByUser(userId));
    const seen = new Set<string>();
    const result = records.map((record) => {
      seen.add(record.managerId);
      return this.assess(record, this.store.get(record.managerId), now);
    });
    // A manager holding sockets here that the registry lost still counts against the user.
    for (const manager of this.store.listByUser(userId)) {
      if (!seen.has(manager.id)) result.push(this.assessManager(manager, now));
    }
    return result;
  }

  /** One manager held by this instance. */
  assessManager(manager: WebSocketManager, now = Date.now()): HealthAssessment {
    return this.assess(manager.toRecord(), manager, now);
  }

  /**
   * One registry record, with the manager holding its sockets when this instance has it. A record
   * of this instance without a local manager is a registry orphan (zombie) unless it was recorded
   * as detached, or made by the process before this one: then it is judged like any detached
   * session (resumable within the window, counted from this start for the latter).
   */
  assess(record: ManagerRecord, manager: WebSocketManager | undefined, now = Date.now()): HealthAssessment {
    const isLocal = record.nodeId === this.options.nodeId;
    const detachedAt = manager ? manager.detachedAt : (this.detachedByRestart(record) ?? record.detachedAt);
    const base = {
      managerId: record.managerId,
      userId: record.userId,
      context: record.context,
      nodeId: record.nodeId,
      createdAt: record.createdAt,
      lastActivityAt: manager?.lastActivityAt ?? record.lastActivityAt,
      detachedAt,
      connections: manager ? manager.connections.size : isLocal ? 0 : null,
      openConnections: manager ? countOpen(manager) : isLocal ? 0 : null,
      local: manager !== undefined,
    };
    // An entry of this instance with no manager here: one recorded as detached agrees with having
    // no socket (this process restarted; the session can still be taken back) and is judged by its
    // record; one recorded as connected since this process started contradicts the sockets: a zombie.
    const orphan = isLocal && !manager && detachedAt === null;
    const [health, reasons] = orphan ? VERDICTS.registryOrphan : this.classify(manager, base.lastActivityAt, base.detachedAt, now);
    return { ...base, health, reasons: [...reasons] };
  }

  /**
   * For an entry of this instance that the process before this one (same node id) left recorded
   * as connected, having died without detaching it: this process's start, from which it counts
   * as detached (its client may take it back within the resume window, as after a graceful
   * stop; the sweep writes that to the registry for the other instances). `null` otherwise.
   */
  detachedByRestart(record: ManagerRecord): number | null {
    return record.nodeId === this.options.nodeId && record.detachedAt === null && record.createdAt < this.startedAt ? this.startedAt : null;
  }

  /**
   * The class of a manager held here, without building an assessment: what the sweep calls for
   * every manager, so it allocates nothing.
   */
  classOf(manager: WebSocketManager, now = Date.now()): HealthClass {
    return this.classify(manager, manager.lastActivityAt, manager.detachedAt, now)[0];
  }

  private classify(
    manager: WebSocketManager | undefined,
    lastActivityAt: number,
    detachedAt: number | null,
    now: number,
  ): Verdict {
    const o = this.options;
    let tracked = 0;
    let open = 0;
    let silent = 0;
    let missedPong = false;
    let probeFailed = false;
    for (const c of manager?.connections ?? NO_CONNECTIONS) {
      tracked++;
      if (!c.isOpen) continue;
      open++;
      const missed = c.pongMissed || c.isPongOverdue(o.heartbeatTimeoutMs, now);
      missedPong ||= missed;
      probeFailed ||= c.probeFailed;
      if (missed || c.probeFailed) silent++;
    }
    if (tracked > 0 && open === 0) return VERDICTS.socketsClosed;
    const detached = manager ? tracked === 0 : detachedAt !== null;
    if (detached && detachedAt !== null && now - detachedAt >= o.resumeWindowMs) return VERDICTS.resumeExpired;
    // One answering connection keeps the manager responsive; its silent siblings are the heartbeat's.
    if (open > 0 && silent === open) {
      return missedPong && probeFailed ? VERDICTS.pongAndProbe : missedPong ? VERDICTS.pongTimeout : VERDICTS.probeFailed;
    }
    const silentFor = now - lastActivityAt;
    if (silentFor >= o.inactiveThresholdMs) return VERDICTS.inactive;
    if (detached) return VERDICTS.detached;
    if (silentFor >= o.idleThresholdMs) return VERDICTS.idle;
    return VERDICTS.healthy;
  }
}

type Verdict = readonly [HealthClass, readonly HealthReason[]];

const NO_CONNECTIONS: ReadonlySet<never> = new Set();

/** Shared, frozen verdicts: classifying allocates nothing; assessments copy the reasons. */
const VERDICTS = {
  registryOrphan: [HealthClass.Zombie, [HealthReason.RegistryOrphan]],
  socketsClosed: [HealthClass.Zombie, [HealthReason.SocketsClosed]],
  resumeExpired: [HealthClass.Zombie, [HealthReason.ResumeWindowExpired]],
  pongTimeout: [HealthClass.Unresponsive, [HealthReason.PongTimeout]],
  probeFailed: [HealthClass.Unresponsive, [HealthReason.ProbeFailed]],
  pongAndProbe: [HealthClass.Unresponsive, [HealthReason.PongTimeout, HealthReason.ProbeFailed]],
  inactive: [HealthClass.Inactive, [HealthReason.InactiveThreshold]],
  detached: [HealthClass.Detached, [HealthReason.Detached]],
  idle: [HealthClass.Idle, [HealthReason.IdleThreshold]],
  healthy: [HealthClass.Healthy, []],
} as const satisfies Record<string, Verdict>;

function countOpen(manager: WebSocketManager): number {
  let open = 0;
  for (const c of manager.connections) if (c.isOpen) open++;
  return open;
}
