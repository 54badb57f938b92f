/**
 * A load generator (minimal raw WebSocket client, see raw-ws-client.ts), forked by the runner (several at once: each process holds at most ~19k
 * sockets, and two of them use both cores). Opens sockets to a target, measures the time to the
 * `session` message and echo round trips, and does only what the runner asks over IPC; every step
 * is bounded by a timeout. Exits when the runner disconnects.
 */
import { RawWebSocket } from './lib/raw-ws-client.js';
import { sleep } from './lib/stats.js';
import { TokenSigner } from './lib/tokens.js';

interface ConnectCommand {
  cmd: 'connect';
  url: string;
  secret: string;
  /** Socket i (start ≤ i < start + count) is user `${userPrefix}${i % users}`, context `${contextPrefix}${i}`. */
  start: number;
  count: number;
  users: number;
  userPrefix: string;
  contextPrefix: string;
  concurrency: number;
  localAddress?: string;
  timeoutMs: number;
}
type Command =
  | ConnectCommand
  | { cmd: 'echo-rtt'; count: number; payloadBytes: number; timeoutMs: number }
  | { cmd: 'echo-rtt-for'; maxCount: number; durationMs: number; payloadBytes: number }
  | { cmd: 'echo-throughput'; durationMs: number; window: number; payloadBytes: number }
  | { cmd: 'status' }
  | { cmd: 'close'; terminate: boolean; timeoutMs: number }
  | FloodStartCommand
  | { cmd: 'flood-stop' };

/** One user floods: `sockets` connections sending echo as fast as the socket takes it, reconnecting when closed. */
interface FloodStartCommand {
  cmd: 'flood-start';
  url: string;
  secret: string;
  userId: string;
  sockets: number;
  localAddress?: string;
}

interface Tracked {
  ws: RawWebSocket;
  onEcho?: (data: unknown) => void;
}

let sockets: Tracked[] = [];
let dropped = 0;
const signers = new Map<string, TokenSigner>();

function openSocket(url: URL, token: string, context: string, localAddress: string | undefined, timeoutMs: number): Promise<Tracked> {
  return new Promise((resolve, reject) => {
    const path = `${url.pathname}?token=${encodeURIComponent(token)}&context=${encodeURIComponent(context)}`;
    const ws = new RawWebSocket({ host: url.hostname, port: Number(url.port), path, localAddress });
    const tracked: Tracked = { ws };
    let admitted = false;
    const timer = setTimeout(() => fail('timeout'), timeoutMs);
    function fail(reason: string): void {
      clearTimeout(timer);
      if (!admitted) reject(new Error(reason));
      ws.terminate();
    }
    ws.onHttpError = (status) => fail(`http_${status}`);
    ws.onClose = (code) => {
      if (admitted) dropped++;
      else fail(`closed_${code}`);
    };
    ws.onText = (text) => {
      const message = JSON.parse(text) as { event: string; data: unknown };
      if (!admitted) {
        clearTimeout(timer);
        if (message.event !== 'session') return fail(`first_${message.event}`);
        admitted = true;
        resolve(tracked);
      } else if (message.event === 'echo') {
        tracked.onEcho?.(message.data);
      }
    };
  });
}

async function connect(c: ConnectCommand): Promise<Record<string, unknown>> {
  let signer = signers.get(c.secret);
  if (!signer) signers.set(c.secret, (signer = new TokenSigner(c.secret)));
  // Tokens are signed before the clock starts: the server's verification is measured, not ours.
  const plan: { token: string; context: string }[] = [];
  for (let i = c.start; i < c.start + c.count; i++) {
    plan.push({ token: await signer.tokenFor(`${c.userPrefix}${i % c.users}`), context: `${c.contextPrefix}${i}` });
  }
  const url = new URL(c.url);
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  let next = 0;
  const startAt = Date.now();
  const worker = async () => {
    while (next < plan.length) {
      const item = plan[next++]!;
      const t0 = performance.now();
      try {
        sockets.push(await openSocket(url, item.token, item.context, c.localAddress, c.timeoutMs));
        latencies.push(performance.now() - t0);
      } catch (error) {
        const reason = (error as Error).message;
        failures[reason] = (failures[reason] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, c.concurrency) }, worker));
  return { opened: latencies.length, failures, latencies, startAt, endAt: Date.now() };
}

function echoOnce(tracked: Tracked, payload: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const timer = setTimeout(() => reject(new Error('echo timeout')), timeoutMs);
    tracked.onEcho = () => {
      clearTimeout(timer);
      tracked.onEcho = undefined;
      resolve(performance.now() - t0);
    };
    tracked.ws.sendText(payload);
  });
}

async function echoRtt(count: number, payloadBytes: number, timeoutMs: number): Promise<Record<string, unknown>> {
  const live = sockets.filter((s) => s.ws.isOpen);
  if (live.length === 0) throw new Error('no open sockets');
  const payload = JSON.stringify({ event: 'echo', data: { pad: 'x'.repeat(payloadBytes) } });
  const rtts: number[] = [];
  for (let k = 0; k < count; k++) rtts.push(await echoOnce(live[k % live.length]!, payload, timeoutMs));
  return { rtts };
}

/**
 * Sequential round trips for at most `durationMs` (or `maxCount` of them). An echo still
 * unanswered at the deadline counts with the time it waited (`censored`): a starved client's
 * wait is the figure, and the step stays bounded however slow the server is.
 */
async function echoRttFor(maxCount: number, durationMs: number, payloadBytes: number): Promise<Record<string, unknown>> {
  const live = sockets.filter((s) => s.ws.isOpen);
  if (live.length === 0) throw new Error('no open sockets');
  const payload = JSON.stringify({ event: 'echo', data: { pad: 'x'.repeat(payloadBytes) } });
  const rtts: number[] = [];
  let censored = 0;
  const deadline = Date.now() + durationMs;
  for (let k = 0; k < maxCount && Date.now() < deadline; k++) {
    const tracked = live[k % live.length]!;
    const left = deadline - Date.now();
    try {
      rtts.push(await echoOnce(tracked, payload, left));
    } catch {
      tracked.onEcho = undefined;
      rtts.push(left);
      censored++;
      break;
    }
  }
  return { rtts, censored };
}

async function echoThroughput(durationMs: number, window: number, payloadBytes: number): Promise<Record<string, unknown>> {
  const payload = JSON.stringify({ event: 'echo', data: { pad: 'x'.repeat(payloadBytes) } });
  const live = sockets.filter((s) => s.ws.isOpen);
  let received = 0;
  let inFlight = 0;
  const startAt = Date.now();
  const deadline = startAt + durationMs;
  for (const tracked of live) {
    tracked.onEcho = () => {
      inFlight--;
      if (Date.now() >= deadline) return;
      received++;
      inFlight++;
      tracked.ws.sendText(payload);
    };
    for (let w = 0; w < window; w++, inFlight++) tracked.ws.sendText(payload);
  }
  await sleep(durationMs);
  // Echoes still in flight are drained (bounded) so the next step starts from a quiet server.
  const drainUntil = Date.now() + 5000;
  const pending = () => inFlight;
  while (pending() > 0 && Date.now() < drainUntil) await sleep(20);
  for (const tracked of live) tracked.onEcho = undefined;
  return { received, durationMs, sockets: live.length, lost: inFlight };
}

async function close(terminate: boolean, timeoutMs: number): Promise<Record<string, unknown>> {
  const closing = sockets;
  sockets = [];
  const done = closing.map(
    ({ ws }) =>
      new Promise<void>((resolve) => {
        if (ws.socket.destroyed) return resolve();
        ws.socket.once('close', () => resolve());
        if (terminate) ws.terminate();
        else ws.close(1000);
      }),
  );
  const timedOut = await Promise.race([Promise.all(done).then(() => false), sleep(timeoutMs).then(() => true)]);
  for (const { ws } of closing) ws.terminate();
  dropped = 0;
  return { closed: closing.length, timedOut };
}

/** The running flood, if any: what it did so far and how to stop it. */
let flood: { stop: () => void; stats: { framesSent: number; echoes: number; rateLimited: number; closes: Record<string, number>; reconnects: number } } | null = null;

async function floodStart(c: FloodStartCommand): Promise<Record<string, unknown>> {
  let signer = signers.get(c.secret);
  if (!signer) signers.set(c.secret, (signer = new TokenSigner(c.secret)));
  const token = await signer.tokenFor(c.userId);
  const url = new URL(c.url);
  const frame = JSON.stringify({ event: 'echo', data: 'flood' });
  const stats = { framesSent: 0, echoes: 0, rateLimited: 0, closes: {} as Record<string, number>, reconnects: 0 };
  const live = new Set<RawWebSocket>();
  let running = true;
  const open = (i: number) => {
    const path = `${url.pathname}?token=${encodeURIComponent(token)}&context=flood-${i}`;
    const ws = new RawWebSocket({ host: url.hostname, port: Number(url.port), path, localAddress: c.localAddress });
    live.add(ws);
    const pump = () => {
      if (!running || !ws.isOpen) return;
      // As fast as the socket takes it, without piling up in this process.
      for (let k = 0; k < 100 && ws.socket.writableLength < 256 * 1024; k++, stats.framesSent++) ws.sendText(frame);
      setImmediate(pump);
    };
    ws.onText = (text) => {
      if (text.startsWith('{"event":"session"')) pump();
      else if (text.startsWith('{"event":"echo"')) stats.echoes++;
      else if (text.includes('RATE_LIMITED')) stats.rateLimited++;
    };
    ws.onHttpError = () => undefined;
    ws.onClose = (code) => {
      live.delete(ws);
      stats.closes[code] = (stats.closes[code] ?? 0) + 1;
      // An attacker reconnects at once (after a breath, so a refused handshake does not spin).
      if (running) setTimeout(() => running && (stats.reconnects++, open(i)), 20);
    };
  };
  for (let i = 0; i < c.sockets; i++) open(i);
  flood = {
    stats,
    stop: () => {
      running = false;
      for (const ws of live) ws.terminate();
    },
  };
  return { started: c.sockets };
}

function floodStop(): Record<string, unknown> {
  const current = flood;
  flood = null;
  current?.stop();
  return current?.stats ?? {};
}

async function handle(message: Command): Promise<Record<string, unknown>> {
  switch (message.cmd) {
    case 'connect':
      return connect(message);
    case 'echo-rtt':
      return echoRtt(message.count, message.payloadBytes, message.timeoutMs);
    case 'echo-rtt-for':
      return echoRttFor(message.maxCount, message.durationMs, message.payloadBytes);
    case 'echo-throughput':
      return echoThroughput(message.durationMs, message.window, message.payloadBytes);
    case 'status':
      return { open: sockets.filter((s) => s.ws.isOpen).length, dropped };
    case 'close':
      return close(message.terminate, message.timeoutMs);
    case 'flood-start':
      return floodStart(message);
    case 'flood-stop':
      return floodStop();
  }
}

process.on('message', (message: Command & { id: number }) => {
  handle(message).then(
    (result) => process.send?.({ ...result, id: message.id }),
    (error: unknown) => process.send?.({ id: message.id, error: String(error) }),
  );
});
process.on('disconnect', () => process.exit(0));
