import { ClientCloseCodes } from '../client/protocol.js';
import type { ManagerRecord } from '../registry/manager-record.js';
import { WS_MANAGER_DEFAULTS } from '../config/ws-manager.defaults.js';
import { SLOW_CONSUMER_CLOSE_CODE } from './bounded-send.js';
import { ConnectionList } from './connection-list.js';
import { flattened } from './flat-string.js';
import type { ManagedConnection } from './managed-connection.js';

/** Bounds of the buffer a detached manager keeps: messages and bytes, oldest dropped first. */
export interface ResumeBufferLimits {
  /** Messages kept at most (the `resumeBuffer` option). */
  messages: number;
  /** Bytes (UTF-8) kept at most (the `resumeBufferBytes` option). */
  bytes: number;
}

/**
 * Close codes the module uses, with the reason text sent beside them. Those the client acts on
 * come from the client's protocol file: one spelling of each number for both sides.
 */
export const CloseCodes = {
  /** Server shutting down. */
  GoingAway: ClientCloseCodes.GoingAway,
  /** Frame over `maxPayloadBytes`. */
  MessageTooBig: 1009,
  /** Registry unreachable: retry later. */
  TryAgainLater: 1013,
  /** Over the inbound message budget after the `RATE_LIMITED` warning. */
  RateLimited: 4008,
  /** The send buffer passed `maxBufferedBytes`: the client does not read. */
  SlowConsumer: SLOW_CONSUMER_CLOSE_CODE,
  /** Removed by cleanup. */
  Evicted: ClientCloseCodes.Evicted,
  /** A newer connection to the same context took this one's place. */
  Superseded: ClientCloseCodes.Superseded,
  /** Per-user limit reached after the allowed cleanup. */
  LimitReached: ClientCloseCodes.LimitReached,
} as const;

/**
 * The server-side session of one (user, context). Owns 0..n live connections, its activity
 * stamps, and a bounded buffer of messages sent while it had no connection.
 */
export class WebSocketManager {
  /** Connections in attach order (oldest first). */
  readonly connections = new ConnectionList();
  /** Epoch ms of the last inbound application message. */
  lastActivityAt: number;
  /** The activity stamp the registry last received (other instances judge this manager by it). */
  reportedActivityAt: number;
  /** Epoch ms the last connection left; `null` while connected. */
  detachedAt: number | null = null;
  /** The last sweep whose registry scan found this manager's entry (local-side reconciliation). */
  registrySweepId = 0;
  /** Made on the first buffered message: most managers never need one. */
  private buffer: string[] | null = null;
  private bufferBytes = 0;
  // The record's fields are kept as fields, the bounds as two numbers: a million managers showed
  // that every object a manager holds costs the GC (see the benchmark's sweep at 1M).
  private readonly maxBufferMessages: number;
  private readonly maxBufferBytes: number;
  /** Globally unique id. */
  readonly id: string;
  /** The owning user. */
  readonly userId: string;
  /** The client-chosen context. */
  readonly context: string;
  /** Epoch ms of creation. */
  readonly createdAt: number;
  /** Instance holding this manager. */
  readonly nodeId: string;

  constructor(
    /** The registry record this manager was admitted with (its fields are copied, the object is not kept). */
    record: ManagerRecord,
    /** Resume buffer bounds; a number bounds the messages, the bytes then take their default. */
    bufferLimits: number | ResumeBufferLimits,
  ) {
    // In place: the registry's copy of the record shares this string.
    this.id = flattened(record.managerId);
    this.userId = record.userId;
    this.context = record.context;
    this.createdAt = record.createdAt;
    this.nodeId = record.nodeId;
    this.lastActivityAt = record.lastActivityAt;
    this.reportedActivityAt = record.lastActivityAt;
    this.maxBufferMessages = typeof bufferLimits === 'number' ? bufferLimits : bufferLimits.messages;
    this.maxBufferBytes = typeof bufferLimits === 'number' ? WS_MANAGER_DEFAULTS.resumeBufferBytes : bufferLimits.bytes;
  }

  /** Whether at least one connection is attached. */
  get isConnected(): boolean {
    return this.connections.size > 0;
  }
  /** Messages waiting for a connection. */
  get bufferedCount(): number {
    return this.buffer?.length ?? 0;
  }
  /** Bytes of the messages waiting for a connection. */
  get bufferedBytes(): number {
    return this.bufferBytes;
  }

  /** The registry view of this manager as it is now. */
  toRecord(): ManagerRecord {
    const { id: managerId, userId, context, nodeId, createdAt, lastActivityAt, detachedAt } = this;
    return { managerId, userId, context, nodeId, createdAt, lastActivityAt, detachedAt };
  }

  /** Records an inbound application message. */
  markActivity(now = Date.now()): void {
    this.lastActivityAt = now;
  }

  /**
   * Sends `{event, data}` to every open connection, or buffers it (oldest dropped first, within
   * both the message and the byte bound) while the manager has none. A connection whose send
   * buffer is over `maxBufferedBytes` is closed (4009) instead of written to. Returns how many
   * connections it was written to.
   */
  send(event: string, data: unknown): number {
    const frame = JSON.stringify({ event, data });
    let sent = 0;
    let open = 0;
    for (const connection of this.connections) {
      if (!connection.isOpen) continue;
      open++;
      if (connection.send(frame) === 'sent') sent++;
    }
    if (open === 0) this.bufferFrame(frame);
    return sent;
  }

  private bufferFrame(frame: string): void {
    const messages = this.maxBufferMessages;
    const bytes = this.maxBufferBytes;
    const size = Buffer.byteLength(frame);
    if (messages === 0 || size > bytes) return;
    this.buffer ??= [];
    this.buffer.push(frame);
    this.bufferBytes += size;
    while (this.buffer.length > messages || this.bufferBytes > bytes) {
      this.bufferBytes -= Buffer.byteLength(this.buffer.shift()!);
    }
  }

  /** Attaches a connection; returns those pushed out by `maxConnections` (oldest first). */
  attach(connection: ManagedConnection, maxConnections: number): ManagedConnection[] {
    // Sockets that closed without a release are dead weight: they must not push out live ones.
    for (const dead of this.connections) if (dead.isClosed) this.connections.delete(dead);
    this.connections.add(connection);
    this.detachedAt = null;
    const superseded: ManagedConnection[] = [];
    while (this.connections.size > maxConnections) {
      const oldest = this.connections.oldest()!;
      this.connections.delete(oldest);
      superseded.push(oldest);
    }
    return superseded;
  }

  /** Writes the buffered messages, in order, to one connection. */
  replayTo(connection: ManagedConnection): number {
    const frames = this.buffer ?? [];
    this.buffer = null;
    this.bufferBytes = 0;
    let sent = 0;
    // Within the send-buffer cap like any send: a replay that passes it closes the socket (4009).
    for (const frame of frames) {
      if (connection.send(frame) !== 'sent') break;
      sent++;
    }
    return sent;
  }

  /** Detaches a connection; returns `true` when that left the manager detached. */
  detach(connection: ManagedConnection, now = Date.now()): boolean {
    if (!this.connections.delete(connection)) return false;
    if (this.connections.size > 0) return false;
    this.detachedAt = now;
    return true;
  }

  /**
   * Tells each connection why (an `evicted` event when `notice` is given) and closes it. Throws
   * the first socket error only after every connection was tried.
   */
  closeAll(code: number, reason: string, notice?: { event: string; data: unknown }): void {
    let firstError: unknown;
    for (const connection of [...this.connections]) {
      try {
        if (notice) connection.send(JSON.stringify(notice));
        // A peer that stopped answering will not complete a close handshake either.
        if (connection.isClosed || connection.pongMissed || connection.probeFailed) connection.socket.terminate();
        else connection.socket.close(code, reason);
      } catch (error) {
        firstError ??= error;
        try {
          connection.socket.terminate();
        } catch {
          // terminate() only throws on sockets that never connected; nothing more to release.
        }
      }
    }
    this.connections.clear();
    this.buffer = null;
    this.bufferBytes = 0;
    if (firstError !== undefined) throw firstError;
  }
}
