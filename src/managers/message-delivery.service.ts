import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { MANAGER_REGISTRY, WS_MANAGER_OPTIONS } from '../config/ws-manager.constants.js';
import type { ResolvedWsManagerOptions } from '../config/ws-manager.options.js';
import type { ManagerRecord } from '../registry/manager-record.js';
import type { ManagerRegistry } from '../registry/manager-registry.interface.js';
import { callRegistry } from '../registry/registry-call.js';
import type { DeliveryOptions, DeliveryResult, InstanceDelivery } from './delivery-result.js';
import { LocalManagerStore } from './local-manager.store.js';
import type { WebSocketManager } from './websocket-manager.js';

/** Which of a user's managers a delivery is for: all, or the one of a context. */
interface Target {
  userId: string;
  context?: string;
  managerId?: string;
}

/** A delivery asked of another instance. */
interface DeliverMessage extends Target {
  k: 'deliver';
  id: string;
  from: string;
  event: string;
  data: unknown;
}

/** Its answer. */
interface DeliveredMessage extends InstanceDelivery {
  k: 'delivered';
  id: string;
}

interface Pending {
  waiting: Set<string>;
  answers: InstanceDelivery[];
  done: () => void;
}

/**
 * Sends application messages to a user's sockets wherever they are. This instance writes to the
 * managers it holds; every other instance that holds one of the target managers (by the
 * registry) gets the message through the registry's node channel (Redis pub/sub, sharded on a
 * cluster), writes it to its own sockets, and answers with what it did. A detached manager
 * buffers the message within its bounds and replays it on resume.
 *
 * At most once per manager, no retry: a manager that moves between instances while a message is
 * in flight may miss it. The result says how many sockets on how many instances got it, and
 * which instances did not confirm.
 */
@Injectable()
export class MessageDeliveryService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('WebSocketManager');
  private readonly pending = new Map<string, Pending>();
  private unsubscribe?: () => void;

  constructor(
    @Inject(WS_MANAGER_OPTIONS) private readonly options: ResolvedWsManagerOptions,
    @Inject(MANAGER_REGISTRY) private readonly registry: ManagerRegistry,
    private readonly store: LocalManagerStore,
  ) {}

  onModuleInit(): void {
    this.unsubscribe = this.registry.onNodeMessage?.((raw) => this.onNodeMessage(raw));
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
    for (const pending of this.pending.values()) pending.done();
  }

  /**
   * Sends `{event, data}` to every manager of `userId` on every instance: each open socket gets
   * it, each detached manager buffers it. `data` must be JSON-serialisable (else a `TypeError`,
   * before anything is sent).
   */
  sendToUser(userId: string, event: string, data: unknown, options: DeliveryOptions = {}): Promise<DeliveryResult> {
    return this.deliver({ userId }, event, data, options);
  }

  /** As {@link sendToUser}, for the user's manager of one context only. */
  sendToContext(userId: string, context: string, event: string, data: unknown, options: DeliveryOptions = {}): Promise<DeliveryResult> {
    return this.deliver({ userId, context }, event, data, options);
  }

  private async deliver(target: Target, event: string, data: unknown, options: DeliveryOptions): Promise<DeliveryResult> {
    if (typeof event !== 'string' || event.length === 0) throw new TypeError('event must be a non-empty string');
    JSON.stringify({ event, data }); // throws on what cannot be sent, before anything is
    const self = this.options.nodeId;
    let registryUnavailable = false;
    let records: ManagerRecord[] = [];
    try {
      records = await this.targetRecords(target);
    } catch {
      registryUnavailable = true;
    }
    const remote = new Map<string, Target>();
    for (const record of records) {
      if (record.nodeId === self) continue;
      remote.set(record.nodeId, target.context === undefined ? target : { ...target, managerId: record.managerId });
    }
    const here = this.deliverHere(target, event, data);
    const answers: InstanceDelivery[] = [here];
    const unconfirmed = remote.size > 0 ? await this.deliverRemote(remote, event, data, options.timeoutMs ?? this.options.registryTimeoutMs, answers) : [];
    const byInstance = answers.filter((a) => a.managers > 0);
    const sum = (field: 'sockets' | 'buffered' | 'managers') => byInstance.reduce((total, a) => total + a[field], 0);
    return { sockets: sum('sockets'), buffered: sum('buffered'), managers: sum('managers'), instances: byInstance.length, byInstance, unconfirmed, registryUnavailable };
  }

  /** The registry's records of the target managers (none when the registry cannot reach other instances). */
  private async targetRecords(target: Target): Promise<ManagerRecord[]> {
    if (!this.registry.sendToNode) return [];
    const timeout = this.options.registryTimeoutMs;
    if (target.context === undefined) return callRegistry('listByUser', timeout, () => this.registry.listByUser(target.userId));
    const record = await callRegistry('findByContext', timeout, () => this.registry.findByContext(target.userId, target.context!));
    return record ? [record] : [];
  }

  /** Sends to each remote instance and collects their answers; returns those that did not confirm. */
  private async deliverRemote(remote: Map<string, Target>, event: string, data: unknown, timeoutMs: number, answers: InstanceDelivery[]): Promise<string[]> {
    const id = randomUUID();
    const waiting = new Set(remote.keys());
    let timer: NodeJS.Timeout | undefined;
    const finished = new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve();
      };
      this.pending.set(id, { waiting, answers, done });
      timer = setTimeout(done, timeoutMs);
    });
    const unreachable: string[] = [];
    await Promise.all(
      [...remote].map(async ([nodeId, target]) => {
        const message: DeliverMessage = { k: 'deliver', id, from: this.options.nodeId, event, data, ...target };
        const listeners = await this.registry.sendToNode!(nodeId, JSON.stringify(message)).catch(() => 0);
        if (listeners === 0 && waiting.delete(nodeId)) unreachable.push(nodeId);
      }),
    );
    if (waiting.size === 0) this.pending.get(id)?.done();
    await finished;
    return [...unreachable, ...waiting];
  }

  /** Writes to this instance's target managers. */
  private deliverHere(target: Target, event: string, data: unknown): InstanceDelivery {
    const result: InstanceDelivery = { nodeId: this.options.nodeId, managers: 0, sockets: 0, buffered: 0 };
    for (const manager of this.localTargets(target)) {
      const sockets = manager.send(event, data);
      result.sockets += sockets;
      const buffered = sockets === 0 && this.options.resumeBuffer > 0;
      if (buffered) result.buffered++;
      if (sockets > 0 || buffered) result.managers++;
    }
    return result;
  }

  private localTargets(target: Target): WebSocketManager[] {
    if (target.context === undefined) return this.store.listByUser(target.userId);
    const byId = target.managerId === undefined ? undefined : this.store.get(target.managerId);
    const manager = byId?.userId === target.userId ? byId : this.store.findByContext(target.userId, target.context);
    return manager ? [manager] : [];
  }

  private onNodeMessage(raw: string): void {
    let message: DeliverMessage | DeliveredMessage;
    try {
      message = JSON.parse(raw) as DeliverMessage | DeliveredMessage;
    } catch {
      return;
    }
    if (message.k === 'delivered') {
      const pending = this.pending.get(message.id);
      if (!pending?.waiting.delete(message.nodeId)) return;
      const { nodeId, managers, sockets, buffered } = message;
      pending.answers.push({ nodeId, managers, sockets, buffered });
      if (pending.waiting.size === 0) pending.done();
      return;
    }
    if (message.k !== 'deliver' || typeof message.userId !== 'string' || typeof message.event !== 'string') return;
    const here = this.deliverHere(message, message.event, message.data);
    const answer: DeliveredMessage = { k: 'delivered', id: message.id, ...here };
    this.registry.sendToNode?.(message.from, JSON.stringify(answer)).catch((error: unknown) => {
      this.logger.warn(`could not confirm a delivery to node ${message.from}: ${String(error)}`);
    });
  }
}
