import { join } from 'node:path';
import { Child } from './lib/children.js';
import { summarize, type Summary } from './lib/stats.js';
import { DIST_DIR } from './targets.js';

/** Aggregate of one `connect` across every load client. */
export interface ConnectResult {
  opened: number;
  failures: Record<string, number>;
  /** Handshakes completed per second of wall time (first start to last `session`). */
  ratePerSec: number;
  /** Time to the `session` message, ms. */
  handshake: Summary;
  elapsedMs: number;
}

let sourceSeq = 0;
/**
 * A fresh loopback source address per connect batch: tens of thousands of connections per run would
 * otherwise exhaust one address's ephemeral ports (TIME_WAIT), and 127.0.0.0/8 is all loopback.
 */
function nextSourceAddress(): string {
  const n = sourceSeq++;
  return `127.0.${1 + Math.floor(n / 250)}.${1 + (n % 250)}`;
}

/** Several load-client processes driven together. */
export class LoadPool {
  private constructor(private readonly clients: Child[]) {}

  static start(size: number): LoadPool {
    const clients = Array.from(
      { length: size },
      (_, k) => new Child(join(DIST_DIR, 'bench', 'load-client.js'), [], { label: `load client ${k}`, execArgv: ['--max-old-space-size=2048'] }),
    );
    return new LoadPool(clients);
  }

  /** Opens `total` sockets split across the clients; socket i is user `${userPrefix}${i % users}`. */
  async connect(spec: {
    url: string;
    secret: string;
    total: number;
    users: number;
    userPrefix: string;
    contextPrefix: string;
    concurrency: number;
    timeoutMs: number;
  }): Promise<ConnectResult> {
    const share = Math.ceil(spec.total / this.clients.length);
    const answers = await Promise.all(
      this.clients.map((client, k) => {
        const start = k * share;
        const count = Math.max(0, Math.min(share, spec.total - start));
        return client.request<{ opened: number; failures: Record<string, number>; latencies: number[]; startAt: number; endAt: number }>(
          {
            cmd: 'connect',
            url: spec.url,
            secret: spec.secret,
            start,
            count,
            users: spec.users,
            userPrefix: spec.userPrefix,
            contextPrefix: spec.contextPrefix,
            concurrency: Math.ceil(spec.concurrency / this.clients.length),
            localAddress: nextSourceAddress(),
            timeoutMs: spec.timeoutMs,
          },
          spec.timeoutMs + 120_000,
        );
      }),
    );
    const failures: Record<string, number> = {};
    for (const a of answers) for (const [k, n] of Object.entries(a.failures)) failures[k] = (failures[k] ?? 0) + n;
    const opened = answers.reduce((n, a) => n + a.opened, 0);
    const elapsedMs = Math.max(...answers.map((a) => a.endAt)) - Math.min(...answers.map((a) => a.startAt));
    return { opened, failures, ratePerSec: opened / (elapsedMs / 1000), handshake: summarize(answers.flatMap((a) => a.latencies)), elapsedMs };
  }

  /** `count` echo round trips, one at a time, round-robin over the first client's sockets. */
  async echoRtt(count: number, payloadBytes: number, timeoutMs = 5000): Promise<Summary> {
    const answer = await this.clients[0]!.request<{ rtts: number[] }>({ cmd: 'echo-rtt', count, payloadBytes, timeoutMs }, count * timeoutMs + 10_000);
    return summarize(answer.rtts);
  }

  /** Every socket keeps `window` echoes in flight for `durationMs`; echoes answered per second. */
  async echoThroughput(durationMs: number, window: number, payloadBytes: number): Promise<{ perSec: number; received: number; lost: number }> {
    const answers = await Promise.all(
      this.clients.map((c) =>
        c.request<{ received: number; lost: number }>({ cmd: 'echo-throughput', durationMs, window, payloadBytes }, durationMs + 20_000),
      ),
    );
    const received = answers.reduce((n, a) => n + a.received, 0);
    return { perSec: received / (durationMs / 1000), received, lost: answers.reduce((n, a) => n + a.lost, 0) };
  }

  /**
   * `count` echo round trips on the first client's sockets (the bystanders) while the last client
   * floods as user `userId` with `sockets` connections; returns the round trips and the flood's tally.
   */
  async echoRttUnderFlood(spec: {
    url: string;
    secret: string;
    userId: string;
    sockets: number;
    count: number;
    durationMs: number;
    payloadBytes: number;
  }): Promise<{ rtt: Summary; censored: number; flood: Record<string, unknown> }> {
    const flooder = this.clients.at(-1)!;
    await flooder.request({ cmd: 'flood-start', url: spec.url, secret: spec.secret, userId: spec.userId, sockets: spec.sockets, localAddress: nextSourceAddress() }, 30_000);
    try {
      await new Promise((r) => setTimeout(r, 500)); // let the flood reach full speed
      // Bounded in time: a starved bystander's wait is the figure, not a failure of the scenario.
      const answer = await this.clients[0]!.request<{ rtts: number[]; censored: number }>(
        { cmd: 'echo-rtt-for', maxCount: spec.count, durationMs: spec.durationMs, payloadBytes: spec.payloadBytes },
        spec.durationMs + 30_000,
      );
      const flood = await flooder.request<Record<string, unknown>>({ cmd: 'flood-stop' }, 30_000);
      return { rtt: summarize(answer.rtts), censored: answer.censored, flood };
    } catch (error) {
      await flooder.request({ cmd: 'flood-stop' }, 30_000).catch(() => undefined);
      throw error;
    }
  }

  /** Open sockets, and admitted sockets the server closed since the last `close`. */
  async status(): Promise<{ open: number; dropped: number }> {
    const answers = await Promise.all(this.clients.map((c) => c.request<{ open: number; dropped: number }>({ cmd: 'status' }, 10_000)));
    return { open: answers.reduce((n, a) => n + a.open, 0), dropped: answers.reduce((n, a) => n + a.dropped, 0) };
  }

  /** Closes every socket (close handshake, or `terminate`), bounded by `timeoutMs`. */
  async close(terminate = false, timeoutMs = 10_000): Promise<void> {
    await Promise.all(this.clients.map((c) => c.request({ cmd: 'close', terminate, timeoutMs }, timeoutMs + 10_000)));
  }

  async stop(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.stop(1000)));
  }
}
