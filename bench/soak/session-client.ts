import { WebSocket } from 'ws';

/** One JSON frame from the server. */
export interface ServerFrame {
  event: string;
  // oxlint-disable-next-line typescript/no-explicit-any -- each check reads the fields it needs
  data: any;
}

/** How an admission attempt ended. */
export type Outcome = 'session' | 'refused' | 'closed' | 'http';

/**
 * A real `ws` client that knows, from the frames it got, which manager (and context) of which
 * instance it is on: the client side of the invariant checks. `session` and `joined` set the
 * manager; a close clears it.
 */
export class SessionClient {
  readonly ws: WebSocket;
  /** Every frame received, in order. */
  readonly frames: ServerFrame[] = [];
  managerId?: string;
  context?: string;
  /** HTTP status of a refused upgrade. */
  httpStatus?: number;
  close?: { code: number; reason: string };
  /** Resolves once the admission ended (session, refusal, close or HTTP refusal). */
  readonly outcome: Promise<Outcome>;
  /** Resolves once the socket closed (or never opened). */
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(
    readonly userId: string,
    readonly nodeId: string,
    url: string,
  ) {
    this.ws = new WebSocket(url);
    this.ws.on('error', () => undefined);
    let settle: (outcome: Outcome) => void = () => undefined;
    this.outcome = new Promise((resolve) => (settle = resolve));
    this.closed = new Promise((resolve) => {
      this.ws.once('close', (code, reason) => {
        this.close = { code, reason: String(reason) };
        this.managerId = undefined;
        settle('closed');
        resolve(this.close);
      });
      this.ws.once('unexpected-response', (_req, res) => {
        this.httpStatus = res.statusCode;
        res.resume();
        this.ws.terminate();
        settle('http');
        resolve({ code: 0, reason: `HTTP ${res.statusCode}` });
      });
    });
    this.ws.on('message', (raw) => {
      const frame = JSON.parse(String(raw)) as ServerFrame;
      this.frames.push(frame);
      if ((frame.event === 'session' || frame.event === 'joined') && !this.close) {
        this.managerId = frame.data.managerId;
        this.context = frame.data.context;
        settle('session');
      } else if (frame.event === 'error' && frame.data?.code === 'MANAGER_LIMIT_REACHED') {
        settle('refused');
      }
    });
  }

  /** `true` while the socket is open and holds a session. */
  get holding(): boolean {
    return this.ws.readyState === WebSocket.OPEN && this.managerId !== undefined;
  }

  /** Sends a frame if the socket is open. */
  send(event: string, data?: unknown): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ event, data }));
  }

  /** `join` to another context; the answer (`joined` or an error) updates this client. */
  join(context: string): void {
    this.send('join', { context });
  }

  /** Frames with `event`. */
  framesOf(event: string): ServerFrame[] {
    return this.frames.filter((f) => f.event === event);
  }

  /** Limit refusals (`MANAGER_LIMIT_REACHED` errors) received, at admission or on a join. */
  get refusals(): ServerFrame[] {
    return this.frames.filter((f) => f.event === 'error' && f.data?.code === 'MANAGER_LIMIT_REACHED');
  }
}
