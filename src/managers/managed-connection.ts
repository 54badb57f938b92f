import { randomUUID } from 'node:crypto';
import { WebSocket } from 'ws';

/**
 * One tracked socket and its liveness, read from the socket itself: its `readyState`, when it was
 * last heard (any frame or pong), and whether a ping is outstanding. Listens for `pong` only; who
 * owns the socket reports close via `WebSocketManagerFactory.release()`.
 */
export class ManagedConnection {
  /** Unique id of this connection. */
  readonly id = randomUUID();
  /** Epoch ms the connection was attached. */
  readonly connectedAt = Date.now();
  /** Epoch ms of the last frame or pong received. */
  lastHeardAt = this.connectedAt;
  /** Epoch ms of the outstanding ping, or `null` when none is outstanding. */
  pingSentAt: number | null = null;
  /** Set when a ping went unanswered past the heartbeat timeout. */
  pongMissed = false;
  /** Set when the connection stayed silent through an admission-time liveness probe. */
  probeFailed = false;
  private readonly pongWaiters = new Set<() => void>();

  constructor(
    /** The underlying `ws` socket. */
    readonly socket: WebSocket,
    /** The user this connection was authenticated as. */
    readonly userId: string,
  ) {
    socket.on('pong', () => this.onPong());
  }

  /** Whether the socket is OPEN. */
  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /** Whether the socket is CLOSING or CLOSED: nothing more can be sent or received. */
  get isClosed(): boolean {
    return this.socket.readyState === WebSocket.CLOSING || this.socket.readyState === WebSocket.CLOSED;
  }

  /** Records an inbound frame. */
  heard(now = Date.now()): void {
    this.lastHeardAt = now;
  }

  /** Sends a protocol ping unless one is already outstanding; `false` if the socket is not open. */
  ping(now = Date.now()): boolean {
    if (!this.isOpen) return false;
    if (this.pingSentAt === null) this.pingSentAt = now;
    try {
      this.socket.ping();
      return true;
    } catch {
      return false;
    }
  }

  /** Whether an outstanding ping has waited longer than `timeoutMs`. */
  isPongOverdue(timeoutMs: number, now = Date.now()): boolean {
    return this.pingSentAt !== null && now - this.pingSentAt >= timeoutMs;
  }

  /** Resolves `true` at the next pong, `false` after `timeoutMs`. */
  waitForPong(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (answered: boolean) => {
        clearTimeout(timer);
        this.pongWaiters.delete(onPong);
        resolve(answered);
      };
      const onPong = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.pongWaiters.add(onPong);
    });
  }

  private onPong(): void {
    this.lastHeardAt = Date.now();
    this.pingSentAt = null;
    this.pongMissed = false;
    this.probeFailed = false;
    if (this.pongWaiters.size > 0) for (const waiter of [...this.pongWaiters]) waiter();
  }
}
