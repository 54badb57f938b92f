import { connect, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startExampleApp, type RunningApp } from '../support/app-harness.js';

/** A masked client text frame (payload < 126 bytes). */
function clientFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  if (payload.length >= 126) throw new Error('keep test frames short');
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
}

/** Unmasked server text frames in `data` (payloads < 64 KiB); returns the texts and the rest. */
function serverFrames(data: Buffer): { texts: string[]; rest: Buffer } {
  const texts: string[] = [];
  let at = 0;
  while (data.length - at >= 2) {
    let length = data[at + 1]! & 0x7f;
    let header = 2;
    if (length === 126) {
      if (data.length - at < 4) break;
      length = data.readUInt16BE(at + 2);
      header = 4;
    }
    if (data.length - at < header + length) break;
    texts.push(data.subarray(at + header, at + header + length).toString());
    at += header + length;
  }
  return { texts, rest: data.subarray(at) };
}

/** A raw TCP WebSocket client that keeps the chunks as the kernel handed them over. */
async function rawClient(running: RunningApp, userId: string, context: string, onPort: (port: number) => void) {
  const token = await running.token(userId);
  const socket: Socket = connect(running.port, '127.0.0.1');
  socket.setNoDelay(true);
  const chunks: Buffer[] = [];
  const waiters: (() => void)[] = [];
  socket.on('data', (chunk) => {
    chunks.push(chunk);
    for (const wake of waiters.splice(0)) wake();
  });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  onPort(socket.localPort!);
  socket.write(
    `GET /ws?token=${encodeURIComponent(token)}&context=${context} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  const until = async (done: () => boolean, timeoutMs = 5000) => {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error('timed out waiting for the server');
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  };
  return { socket, chunks, until };
}

/**
 * Counts the writes the server hands to the kernel on the connection from `clientPort` (each is
 * one write/writev system call): what the client reads may merge or split on its own, this may not.
 * `duringSend`: whether each write started inside the server's `WebSocket#send` (uncorked) rather
 * than when a corked socket was released later.
 */
function serverWrites(clientPort: () => number | undefined) {
  type WriteGeneric = (this: Socket, writev: boolean, data: unknown, ...rest: unknown[]) => unknown;
  const proto = Socket.prototype as unknown as { _writeGeneric: WriteGeneric };
  const original = proto._writeGeneric;
  type Send = (this: WebSocket, ...args: unknown[]) => void;
  const wsProto = WebSocket.prototype as unknown as { send: Send };
  const originalSend = wsProto.send;
  const writes: number[] = [];
  const duringSend: boolean[] = [];
  let sending = 0;
  proto._writeGeneric = function (this: Socket, writev: boolean, data: unknown, ...rest: unknown[]) {
    if (this.remotePort !== undefined && this.remotePort === clientPort()) {
      writes.push(writev ? (data as unknown[]).length : 1);
      duringSend.push(sending > 0);
    }
    return original.call(this, writev, data, ...rest);
  };
  wsProto.send = function (this: WebSocket, ...args: unknown[]) {
    sending++;
    try {
      return originalSend.apply(this, args);
    } finally {
      sending--;
    }
  };
  return {
    writes,
    duringSend,
    restore: () => {
      proto._writeGeneric = original;
      wsProto.send = originalSend;
    },
  };
}

describe('write coalescing on real sockets', () => {
  let running: RunningApp | undefined;
  let restore: (() => void) | undefined;
  afterEach(async () => {
    restore?.();
    await running?.close();
    running = undefined;
  });

  /** The example app, a raw client of user u1 admitted to `context`, and the server's writes to it. */
  async function admittedRawClient(context: string) {
    running = await startExampleApp();
    let port: number | undefined;
    const spy = serverWrites(() => port);
    restore = spy.restore;
    const client = await rawClient(running, 'u1', context, (p) => (port = p));
    await client.until(() => Buffer.concat(client.chunks).includes('"event":"session"'));
    return { client, spy };
  }

  it('sends the 101 answer and the session frame in one write', async () => {
    const { client, spy } = await admittedRawClient('c1');
    const received = Buffer.concat(client.chunks);
    expect(received.toString('latin1')).toMatch(/^HTTP\/1\.1 101 /);
    const body = received.subarray(received.indexOf('\r\n\r\n') + 4);
    expect(serverFrames(body).texts.map((t) => (JSON.parse(t) as { event: string }).event)).toEqual(['session']);
    expect(spy.writes).toHaveLength(1); // 101 headers + frame header + session payload, one writev
    client.socket.destroy();
  });

  it('answers frames that arrived in one read in one write, in order', async () => {
    const { client, spy } = await admittedRawClient('c2');
    client.chunks.length = 0;
    spy.writes.length = 0;
    spy.duringSend.length = 0;
    client.socket.write(Buffer.concat([1, 2, 3, 4].map((n) => clientFrame(JSON.stringify({ event: 'echo', data: n })))));
    const echoes = () => serverFrames(Buffer.concat(client.chunks)).texts.map((t) => JSON.parse(t) as { event: string; data: unknown });
    await client.until(() => echoes().length >= 4);
    expect(echoes()).toEqual([1, 2, 3, 4].map((n) => ({ event: 'echo', data: n })));
    expect(spy.writes).toEqual([8]); // four frames (header + payload each) in one writev
    expect(spy.duringSend).toEqual([false]); // released once the last answer was written
    client.socket.destroy();
  });

  it('answers a frame read alone as it is sent: nothing to coalesce, so nothing corked to wait for', async () => {
    const { client, spy } = await admittedRawClient('c3');
    for (const n of [1, 2]) {
      client.chunks.length = 0;
      spy.writes.length = 0;
      spy.duringSend.length = 0;
      client.socket.write(clientFrame(JSON.stringify({ event: 'echo', data: n })));
      await client.until(() => serverFrames(Buffer.concat(client.chunks)).texts.length >= 1);
      expect(serverFrames(Buffer.concat(client.chunks)).texts).toEqual([JSON.stringify({ event: 'echo', data: n })]);
      expect(spy.writes).toEqual([2]); // ws writes frame header and payload together
      expect(spy.duringSend).toEqual([true]);
    }
    client.socket.destroy();
  });
});
