import type { WebSocket } from 'ws';

/** The inbound budget (see the `inboundRate*` / `inboundBurst*` options); a rate of 0 turns that bucket off. */
export interface InboundBudget {
  inboundRatePerConnection: number;
  inboundBurstPerConnection: number;
  inboundRatePerUser: number;
  inboundBurstPerUser: number;
}

/** What to do with one inbound frame. */
export type InboundVerdict =
  | { action: 'deliver' }
  /**
   * Over budget: drop it; `warn` is true for the first dropped frame of a burst (answer
   * `RATE_LIMITED`); `refillMs`: how long until the bucket that ran dry is half full again.
   */
  | { action: 'drop'; warn: boolean; scope: 'connection' | 'user'; userId: string; refillMs: number }
  /** Kept sending a whole burst's worth of frames after the warning: close the connection. */
  | { action: 'close'; scope: 'connection' | 'user'; userId: string };

/** One shared answer for the common case: a frame within budget allocates nothing. */
const DELIVER: InboundVerdict = Object.freeze({ action: 'deliver' });

/** A token bucket: `rate` tokens per second, at most `burst` saved. */
class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly rate: number,
    readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.at = now;
  }

  /** Tokens available now (refilled since the last look). */
  level(now: number): number {
    if (this.rate === 0) return Number.POSITIVE_INFINITY;
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) * this.rate) / 1000);
    this.at = now;
    return this.tokens;
  }

  take(): void {
    this.tokens -= 1;
  }

  /** Milliseconds until the bucket holds half its burst again (after a `level` call). */
  msUntilHalf(): number {
    return this.rate === 0 ? 0 : Math.max(0, ((this.burst / 2 - this.tokens) * 1000) / this.rate);
  }
}

interface UserState {
  bucket: TokenBucket;
  connections: number;
}

interface ConnectionState {
  userId: string;
  user: UserState;
  bucket: TokenBucket;
  /** Warned (`RATE_LIMITED`) and not yet back to half a bucket. */
  limited: boolean;
  /** Frames dropped since the warning. */
  dropped: number;
}

/**
 * Per-connection and per-user token buckets for inbound frames. A frame passes when both
 * buckets hold a token. The first frame over budget is answered `RATE_LIMITED` (the caller
 * sends it); later ones are dropped silently until the connection's buckets are back to half
 * full (so the warning comes once per burst, not per frame); a connection that drops a further
 * burst's worth of frames after its warning is closed. User buckets live only while the user
 * has a connection here, so memory follows the connected users.
 */
export class InboundRateLimiter {
  private readonly connections = new WeakMap<WebSocket, ConnectionState>();
  private readonly users = new Map<string, UserState>();
  /** Whether any budget applies (a rate of 0 turns its bucket off; both off: no frame is looked up). */
  readonly enabled: boolean;

  constructor(
    private readonly budget: InboundBudget,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.enabled = budget.inboundRatePerConnection > 0 || budget.inboundRatePerUser > 0;
  }

  /** Users with a bucket (connected users with a registered socket). */
  get trackedUsers(): number {
    return this.users.size;
  }

  /** Starts budgeting a socket of `userId`; call {@link unregister} when it closes. */
  register(socket: WebSocket, userId: string): void {
    if (!this.enabled || this.connections.has(socket)) return;
    // A new bucket is full, and a full one stays full whenever it was stamped: no clock read per
    // admission (the first `level` call refills from 0 and is capped at the burst).
    let user = this.users.get(userId);
    if (!user) this.users.set(userId, (user = { bucket: new TokenBucket(this.budget.inboundRatePerUser, this.budget.inboundBurstPerUser, 0), connections: 0 }));
    user.connections++;
    const bucket = new TokenBucket(this.budget.inboundRatePerConnection, this.budget.inboundBurstPerConnection, 0);
    this.connections.set(socket, { userId, user, bucket, limited: false, dropped: 0 });
  }

  /** Stops budgeting a socket; the user's bucket goes with their last socket. */
  unregister(socket: WebSocket): void {
    const state = this.connections.get(socket);
    if (!state) return;
    this.connections.delete(socket);
    if (--state.user.connections === 0 && this.users.get(state.userId) === state.user) this.users.delete(state.userId);
  }

  /** Charges one inbound frame of `socket` (an unregistered socket is not budgeted). */
  check(socket: WebSocket): InboundVerdict {
    const state = this.connections.get(socket);
    if (!state) return DELIVER;
    const now = this.clock();
    const own = state.bucket.level(now);
    const shared = state.user.bucket.level(now);
    if (own >= 1 && shared >= 1) {
      state.bucket.take();
      state.user.bucket.take();
      if (state.limited && own >= state.bucket.burst / 2 && shared >= state.user.bucket.burst / 2) {
        state.limited = false;
        state.dropped = 0;
      }
      return DELIVER;
    }
    const scope = own < 1 ? 'connection' : 'user';
    const dry = scope === 'connection' ? state.bucket : state.user.bucket;
    const { userId } = state;
    const refillMs = Math.ceil(dry.msUntilHalf());
    if (!state.limited) {
      state.limited = true;
      state.dropped = 1;
      return { action: 'drop', warn: true, scope, userId, refillMs };
    }
    return ++state.dropped > dry.burst ? { action: 'close', scope, userId } : { action: 'drop', warn: false, scope, userId, refillMs };
  }
}
