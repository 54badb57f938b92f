import { afterEach, describe, expect, it } from 'vitest';
import { AppProcess } from '../support/app-process.js';
import { HostileClientProcess } from '../support/client-process.js';

const MiB = 1024 * 1024;
const CAP = 1 * MiB;
// Contract I4: whatever a client does, what the server holds for it is bounded by configuration.
// Uncapped, a client that never reads grew the server by 159–593 MiB within seconds.
const RSS_BOUND = CAP * 4 + 50 * MiB;

/**
 * Samples `sample()` every 50 ms until `done()`, `timeoutMs`, or the sample passes `giveUpAbove`;
 * returns the largest value seen.
 */
async function maxWhile(
  sample: () => number,
  done: () => Promise<boolean>,
  timeoutMs: number,
  giveUpAbove = Number.POSITIVE_INFINITY,
): Promise<{ max: number; finished: boolean }> {
  const deadline = Date.now() + timeoutMs;
  let max = sample();
  for (;;) {
    max = Math.max(max, sample());
    if (await done()) return { max, finished: true };
    if (Date.now() > deadline || max > giveUpAbove) return { max, finished: false };
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a client that never reads', () => {
  let app: AppProcess | undefined;
  const clients: HostileClientProcess[] = [];
  afterEach(() => {
    for (const c of clients.splice(0)) c.kill();
    app?.stop();
    app = undefined;
  });

  // The inbound budget is off here: the point is the send buffer, not the flood of requests.
  const floodEnv = {
    WS_MAX_BUFFERED_BYTES: String(CAP),
    WS_INBOUND_RATE_PER_CONNECTION: '0',
    WS_INBOUND_RATE_PER_USER: '0',
    WS_HEARTBEAT_INTERVAL_MS: '600000',
  };

  for (const pongs of [false, true]) {
    it(`is closed (4009 SLOW_CONSUMER, counted) and server memory stays within the cap's order${pongs ? ', unsolicited pongs or not' : ''}`, async () => {
      app = await AppProcess.start(floodEnv);
      const server = app;
      const bystander = HostileClientProcess.start('receive-only', await server.url('calm', 'calm'));
      clients.push(bystander);
      await bystander.waitFor('session');
      const baseline = server.rssBytes();

      const reader = HostileClientProcess.start('never-read', await server.url('hog', 'hog'), { size: 60_000, pongs });
      clients.push(reader);
      await reader.waitFor('session');
      const { max, finished } = await maxWhile(
        () => server.rssBytes(),
        async () => (await server.metric('ws_manager_slow_consumer_closes_total')) >= 1,
        30_000,
        baseline + RSS_BOUND,
      );
      expect(finished, `no slow-consumer close; RSS grew by ${((max - baseline) / MiB).toFixed(1)} MiB`).toBe(true);
      expect(max - baseline).toBeLessThan(RSS_BOUND);
      // The socket is gone from the server, and the well-behaved client is untouched.
      await maxWhile(() => 0, async () => (await server.metric('ws_manager_connections')) === 1, 10_000);
      expect(await server.metric('ws_manager_connections')).toBe(1);
      expect(bystander.linesOf('closed')).toEqual([]);
      expect(server.alive).toBe(true);
    }, 60_000);
  }

  it('sending only unsolicited pongs does not pass for alive: the heartbeat terminates it', async () => {
    app = await AppProcess.start({ WS_HEARTBEAT_INTERVAL_MS: '300', WS_HEARTBEAT_TIMEOUT_MS: '600' });
    const server = app;
    const silent = HostileClientProcess.start('pongs-only', await server.url('ghost', 'ghost'));
    clients.push(silent);
    await silent.waitFor('session');
    const { finished } = await maxWhile(() => 0, async () => (await server.metric('ws_manager_heartbeat_terminations_total')) >= 1, 20_000);
    expect(finished).toBe(true);
    expect(await server.metric('ws_manager_connections')).toBe(0);
  }, 60_000);
});
