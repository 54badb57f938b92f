import { once } from 'node:events';
import { createConnection, createServer, Socket, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ServerLatencyProbe } from '../../../bench/lib/server-latency.js';

// The benchmark's server-side share of a round trip: a real TCP echo server, timed from the
// chunk it reads to the answer it writes, and Node's socket methods put back afterwards.
describe('ServerLatencyProbe', () => {
  const closers: (() => void)[] = [];
  afterEach(() => closers.splice(0).forEach((close) => close()));

  async function echoServer(answer: (socket: Socket, chunk: Buffer) => void) {
    const server = createServer((socket) => socket.on('data', (chunk: Buffer) => answer(socket, chunk)));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(() => server.close());
    // One connection per round trip: the client never writes after reading, so in this one
    // process only the server's answers are timed.
    const roundTrip = async (text: string) => {
      const client = createConnection((server.address() as AddressInfo).port, '127.0.0.1');
      await once(client, 'connect');
      client.write(text);
      await once(client, 'data');
      client.destroy();
    };
    return roundTrip;
  }

  it('times each answered chunk from read to write, and restores net.Socket when stopped', async () => {
    const { emit, _writeGeneric: writeGeneric } = Socket.prototype as unknown as Record<string, unknown>;
    const roundTrip = await echoServer((socket, chunk) => {
      const until = performance.now() + 2; // 2 ms of work before answering
      while (performance.now() < until);
      socket.write(chunk);
    });
    const probe = new ServerLatencyProbe();
    probe.start();
    for (let k = 0; k < 5; k++) await roundTrip(`ping ${k}`);
    const summary = probe.stop();
    expect(summary.count).toBe(5);
    expect(summary.p50).toBeGreaterThanOrEqual(2000);
    expect(summary.max).toBeLessThan(1_000_000);
    expect((Socket.prototype as unknown as Record<string, unknown>).emit).toBe(emit);
    expect((Socket.prototype as unknown as Record<string, unknown>)._writeGeneric).toBe(writeGeneric);
    // Stopped: nothing more is recorded.
    await roundTrip('after');
    expect(probe.stop().count).toBe(0);
  });

  it('does not count a chunk that is never answered', async () => {
    let answer = false;
    const roundTrip = await echoServer((socket, chunk) => answer && socket.write(chunk));
    const probe = new ServerLatencyProbe();
    probe.start();
    answer = true;
    await roundTrip('answered');
    expect(probe.stop().count).toBe(1);
  });
});
