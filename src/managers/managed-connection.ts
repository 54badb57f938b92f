import { randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';
import { WS_MANAGER_DEFAULTS } from '../config/ws-manager.defaults.js';
import { sendBounded, type BoundedSendResult } from './bounded-send.js';
import { randomId } from './flat-string.js';

/** How much a connection may have buffered towards its peer, and who hears when it passes that. */
export interface SendLimit {
  /** Cap on the socket's `bufferedAmount` (see the `maxBufferedBytes` option). */
  maxBufferedBytes: number;
  /** Called once when a send found the cap passed and closed the socket (4009 `SLOW_CONSUMER`). */
  onSlowConsumer(connection: ManagedConnection): void;
}

const DEFAULT_SEND_LIMIT: SendLimit = { maxBufferedBytes: WS_MANAGER_DEFAULTS.maxBufferedBytes, onSlowConsumer: () => undefined };

/** The connection a socket's pongs go to (one shared listener instead of a closure per connection). */
const CONNECTION = Symbol('nestjs-websocket-manager.connection');
type TaggedSocket = WebSocket & { [CONNECTION]?: ManagedConnection };

/** Ping payloads are cut from a random pool: one `randomBytes` call per 512 pings instead of one each. */
const PAYLOAD_BYTES = 8;
const POOL_PAYLOADS = 512;
let payloadPool = Buffer.alloc(0);
let payloadOffset = 0;

/** A fresh unpredictable 8-byte ping payload (a view of a pool that is replaced, never refilled). */
function nextPingPayload(): Buffer {
  if (payloadOffset + PAYLOAD_BYTES > payloadPool.length) {
    payloadPool = randomBytes(PAYLOAD_BYTES * POOL_PAYLOADS);
    payloadOffset = 0;
  }
  const payload = payloadPool.subarray(payloadOffset, payloadOffset + PAYLOAD_BYTES);
  payloadOffset += PAYLOAD_BYTES;
  return payload;
}

function routePong(this: TaggedSocket, data: Buffer): void {
  this[CONNECTION]?.onPong(data);
}

/**
 * One tracked socket and its liveness, read from the socket itself: its `readyState`, when it was
 * last heard (any frame, or the pong answering its ping), and whether a ping is outstanding.
 * Each ping carries a fresh random payload and only the pong echoing it counts: a client that
 * sends pongs on its own without reading cannot pass for alive. Listens for `pong` only; who
 * owns the socket reports close via `WebSocketManagerFactory.release()`.
 */
export class ManagedConnection {
  /** Epoch ms the connection was attached. */
  readonly connectedAt = Date.now();
  /** Epoch ms of the last frame or answering pong received. */
  lastHeardAt = this.connectedAt;
  /** Epoch ms of the outstanding ping, or `null` when none is outstanding. */
  pingSentAt: number | null = null;
  /** Set when a ping went unanswered past the heartbeat timeout. */
  pongMissed = false;
  /** Set when the connection stayed silent through an admission-time liveness probe. */
  probeFailed = false;
  /** Set once a send found the send buffer over its cap and closed the socket. */
  slowConsumer = false;
  /** The send-buffer cap; `HeartbeatService.track` sets the configured one. */
  sendLimit: SendLimit = DEFAULT_SEND_LIMIT;
  /** Payload of the outstanding ping: the pong must echo it. */
  private pingPayload: Buffer | null = null;
  /** Made by the first {@link waitForPong} (an admission probe): most connections never need one. */
  private pongWaiters: Set<() => void> | null = null;
  /** Made when first read: the sweep of a million managers showed every per-connection object counts. */
  private uuid: string | undefined;

  constructor(
    /** The underlying `ws` socket. */
    readonly socket: WebSocket,
    /** The user this connection was authenticated as. */
    readonly userId: string,
  ) {
    const tagged = socket as TaggedSocket;
    // One listener per socket, whichever connection currently tracks it.
    if (tagged[CONNECTION] === undefined) socket.on('pong', routePong);
    tagged[CONNECTION] = this;
  }

  /** Unique id of this connection (a UUID). */
  get id(): string {
    return (this.uuid ??= randomId());
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

  /**
   * Writes one text frame within the send-buffer cap (see {@link sendBounded}); a send over the
   * cap closes the socket with 4009 and reports it to `sendLimit.onSlowConsumer` once.
   */
  send(frame: string): BoundedSendResult {
    const result = sendBounded(this.socket, frame, this.sendLimit.maxBufferedBytes);
    if (result === 'slow_consumer' && !this.slowConsumer) {
      this.slowConsumer = true;
      this.sendLimit.onSlowConsumer(this);
    }
    return result;
  }

  /**
   * Sends a protocol ping unless the socket is not open (`false`). While a ping is outstanding
   * the same payload is sent again (the admission probe), so a pong to either one counts.
   */
  ping(now = Date.now()): boolean {
    if (!this.isOpen) return false;
    if (this.pingSentAt === null || this.pingPayload === null) {
      this.pingSentAt = now;
      this.pingPayload = nextPingPayload();
    }
    try {
      this.socket.ping(this.pingPayload);
      return true;
    } catch {
      return false;
    }
  }

  /** Whether an outstanding ping has waited longer than `timeoutMs`. */
  isPongOverdue(timeoutMs: number, now = Date.now()): boolean {
    return this.pingSentAt !== null && now - this.pingSentAt >= timeoutMs;
  }

  /** Resolves `true` at the next pong answering a ping, `false` after `timeoutMs`. */
  waitForPong(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const waiters = (this.pongWaiters ??= new Set());
      const done = (answered: boolean) => {
        clearTimeout(timer);
        waiters.delete(onPong);
        resolve(answered);
      };
      const onPong = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      waiters.add(onPong);
    });
  }

  /** A pong arrived on the socket (see `routePong`). */
  onPong(data: Buffer): void {
    // Unsolicited pongs (allowed by RFC 6455 as a heartbeat) prove nothing: the peer need not
    // have read anything. Only the echo of the outstanding ping's payload does.
    if (this.pingPayload === null || !this.pingPayload.equals(data)) return;
    this.pingPayload = null;
    this.lastHeardAt = Date.now();
    this.pingSentAt = null;
    this.pongMissed = false;
    this.probeFailed = false;
    if (this.pongWaiters !== null && this.pongWaiters.size > 0) for (const waiter of [...this.pongWaiters]) waiter();
  }
}
