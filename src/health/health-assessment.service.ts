import { Inject, Injectable } from '@nestjs/common';
import { MANAGER_REGISTRY, WS_MANAGER_OPTIONS } from '../config/ws-manager.constants.js';
import type { ResolvedWsManagerOptions } from '../config/ws-manager.options.js';
import { LocalManagerStore } from '../managers/local-manager.store.js';
import type { WebSocketManager } from '../managers/websocket-manager.js';
import type { ManagerRecord } from '../registry/manager-record.js';
import type { ManagerRegistry } from '../registry/manager-registry.interface.js';
import { HealthClass, HealthReason, type HealthAssessment } from './health-class.js';

/**
 * Classifies managers from the real socket state (readyState, missed pong deadline, probe
 * result) first and activity stamps second: a closed socket with a fresh activity stamp is
 * still a zombie. Pure reads; never changes anything.
 */
@Injectable()
export class HealthAssessmentService {
  constructor(
    @Inject(WS_MANAGER_OPTIONS) private readonly options: ResolvedWsManagerOptions,
    @Inject(MANAGER_REGISTRY) private readonly registry: ManagerRegistry,
    private readonly store: LocalManagerStore,
  ) {}

  /** Every manager of one user, from the registry joined with this instance's sockets. */
  async assessUser(userId: string, now = Date.now()): Promise<HealthAssessment[]> {
    const records = await this.registry.listByUser(userId);
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
   * of this instance without a local manager is a registry orphan (zombie).
   */
  assess(record: ManagerRecord, manager: WebSocketManager | undefined, now = Date.now()): HealthAssessment {
    const isLocal = record.nodeId === this.options.nodeId;
    const base = {
      managerId: record.managerId,
      userId: record.userId,
      context: record.context,
      nodeId: record.nodeId,
      createdAt: record.createdAt,
      lastActivityAt: manager?.lastActivityAt ?? record.lastActivityAt,
      detachedAt: manager ? manager.detachedAt : record.detachedAt,
      connections: manager ? manager.connections.size : isLocal ? 0 : null,
      openConnections: manager ? [...manager.connections].filter((c) => c.isOpen).length : isLocal ? 0 : null,
      local: manager !== undefined,
    };
    const [health, reasons] = isLocal && !manager ? [HealthClass.Zombie, [HealthReason.RegistryOrphan]] : this.classify(base, manager, now);
    return { ...base, health, reasons } as HealthAssessment;
  }

  private classify(
    facts: Pick<HealthAssessment, 'lastActivityAt' | 'detachedAt'>,
    manager: WebSocketManager | undefined,
    now: number,
  ): [HealthClass, HealthReason[]] {
    const o = this.options;
    const connections = manager ? [...manager.connections] : [];
    const open = connections.filter((c) => c.isOpen);
    if (connections.length > 0 && open.length === 0) {
      return [HealthClass.Zombie, [HealthReason.SocketsClosed]];
    }
    const detached = manager ? connections.length === 0 : facts.detachedAt !== null;
    if (detached && facts.detachedAt !== null && now - facts.detachedAt >= o.resumeWindowMs) {
      return [HealthClass.Zombie, [HealthReason.ResumeWindowExpired]];
    }
    // One answering connection keeps the manager responsive; its silent siblings are the heartbeat's.
    const missedPong = (c: (typeof open)[number]) => c.pongMissed || c.isPongOverdue(o.heartbeatTimeoutMs, now);
    if (open.length > 0 && open.every((c) => missedPong(c) || c.probeFailed)) {
      const reasons: HealthReason[] = [];
      if (open.some(missedPong)) reasons.push(HealthReason.PongTimeout);
      if (open.some((c) => c.probeFailed)) reasons.push(HealthReason.ProbeFailed);
      return [HealthClass.Unresponsive, reasons];
    }
    const silentFor = now - facts.lastActivityAt;
    if (silentFor >= o.inactiveThresholdMs) return [HealthClass.Inactive, [HealthReason.InactiveThreshold]];
    if (detached) return [HealthClass.Detached, [HealthReason.Detached]];
    if (silentFor >= o.idleThresholdMs) return [HealthClass.Idle, [HealthReason.IdleThreshold]];
    return [HealthClass.Healthy, []];
  }
}
