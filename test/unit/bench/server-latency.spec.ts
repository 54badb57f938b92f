import { once } from 'node:events';
import { createConnection, createServer, Socket, type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ServerLatencyProbe } from '../../../bench/lib/server-latency.js';

// The benchmark's server-side share of a round trip: a real TCP echo server, timed from the
// chunk it reads to the answer it writes, and Node's socket methods put back afterwards.
describe('ServerLatencyProbe', () => {
  const closers: (() => void)[] = [];
  const probes: ServerLatencyProbe[] = [];
  afterEach(() => {
    probes.splice(0).forEach((probe) => probe.uninstall());
    closers.splice(0).forEach((close) => close());
  });

  const newProbe = () => {
    const probe = new ServerLatencyProbe();
    probes.push(probe);
    return probe;
  };

  /** A server answering what `answer` says; chunks it received are counted in `received`. */
  async function echoServer(answer: (socket: Socket, chunk: Buffer) => void) {
    const state = { received: 0 };
    const server = createServer((socket) =>
      socket.on('data', (chunk: Buffer) => {
        state.received++;
        answer(socket, chunk);
      }),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(() => server.close());
    const port = (server.address() as AddressInfo).port;
    // Clients never write after reading, so in this one process only the server's answers are timed.
    const connectClient = async () => {
      const client = createConnection(port, '127.0.0.1');
      closers.push(() => client.destroy());
      await once(client, 'connect');
      return client;
    };
    const roundTrip = async (text: string) => {
      const client = await connectClient();
      client.write(text);
      await once(client, 'data');
      client.destroy();
    };
    return { state, connectClient, roundTrip };
  }

  it('times each answered chunk from read to write, and restores net.Socket when uninstalled', async () => {
    const proto = Socket.prototype as unknown as Record<string, unknown>;
    const { _writeGeneric: writeGeneric } = proto;
    const ownEmit = Object.prototype.hasOwnProperty.call(proto, 'emit');
    const { roundTrip } = await echoServer((socket, chunk) => {
      const until = performance.now() + 2; // 2 ms of work before answering
      while (performance.now() < until);
      socket.write(chunk);
    });
    const probe = newProbe();
    probe.install();
    await roundTrip('before start'); // installed, not recording
    probe.start();
    for (let k = 0; k < 5; k++) await roundTrip(`ping ${k}`);
    const summary = probe.stop();
    expect(summary.count).toBe(5);
    expect(summary.p50).toBeGreaterThanOrEqual(2000);
    expect(summary.max).toBeLessThan(1_000_000);
    await roundTrip('after stop');
    expect(probe.stop().count).toBe(0);
    probe.uninstall();
    expect(proto._writeGeneric).toBe(writeGeneric);
    expect(Object.prototype.hasOwnProperty.call(proto, 'emit')).toBe(ownEmit);
  });

  it("times an answer from the chunk it answers: an unanswered chunk's stamp is replaced by the next", async () => {
    const { state, connectClient } = await echoServer((socket, chunk) => chunk.toString() === 'answer me' && socket.write(chunk));
    const probe = newProbe();
    probe.start();
    const client = await connectClient();
    client.write('ignored');
    while (state.received < 1) await sleep(5);
    await sleep(50); // the unanswered chunk waits 50 ms
    client.write('answer me');
    await once(client, 'data');
    const summary = probe.stop();
    expect(summary.count).toBe(1);
    expect(summary.max).toBeLessThan(50_000); // timed from 'answer me', not from 'ignored'
  });
});
