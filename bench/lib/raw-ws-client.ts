/**
 * A deliberately minimal WebSocket client for load generation. The `ws` client spends more CPU per
 * handshake (an http.ClientRequest, a random key, accept-hash verification) than the servers under
 * test, and on a 2-core machine that would make the load generator the bottleneck and hide the
 * servers' difference. This one writes a fixed upgrade request on a plain TCP socket, reads the
 * 101, parses unmasked server frames, answers pings and close frames, and sends text frames with
 * an all-zero mask (legal per RFC 6455 §5.3, and it makes masking a copy). It does not verify
 * Sec-WebSocket-Accept: the servers are ours, correctness is the test suite's job.
 */
import { connect, type Socket } from 'node:net';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ZERO_MASK = Buffer.alloc(4);

export interface RawOptions {
  host: string;
  port: number;
  /** Path and query, e.g. `/ws?token=…&context=…`. */
  path: string;
  localAddress?: string;
}

/** One client connection; `onText` gets each text frame, `onClose` the end (code, or -1 if none). */
export class RawWebSocket {
  onOpen?: () => void;
  onText?: (text: string) => void;
  onClose?: (code: number, reason: string) => void;
  onHttpError?: (status: number) => void;
  readonly socket: Socket;
  private upgraded = false;
  private closed = false;
  private closing = false;
  private buffer: Buffer = Buffer.alloc(0);

  constructor(options: RawOptions) {
    this.socket = connect({ host: options.host, port: options.port, localAddress: options.localAddress, noDelay: true });
    this.socket.on('connect', () => {
      this.socket.write(
        `GET ${options.path} HTTP/1.1\r\nHost: ${options.host}:${options.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => this.finish(-1, ''));
  }

  get isOpen(): boolean {
    return this.upgraded && !this.closed;
  }

  sendText(text: string): void {
    this.writeFrame(0x1, Buffer.from(text));
  }

  /** Close handshake: sends a close frame and ends once the server answers (or the socket closes). */
  close(code = 1000): void {
    if (this.closed || !this.upgraded) return this.terminate();
    const payload = Buffer.alloc(2);
    payload.writeUInt16BE(code);
    this.closing = true;
    this.writeFrame(0x8, payload);
  }

  terminate(): void {
    this.socket.destroy();
  }

  private writeFrame(opcode: number, payload: Buffer): void {
    if (this.socket.destroyed) return;
    const length = payload.length;
    const header = length < 126 ? Buffer.alloc(2) : length < 65_536 ? Buffer.alloc(4) : Buffer.alloc(10);
    header[0] = 0x80 | opcode;
    if (length < 126) header[1] = 0x80 | length;
    else if (length < 65_536) {
      header[1] = 0x80 | 126;
      header.writeUInt16BE(length, 2);
    } else {
      header[1] = 0x80 | 127;
      header.writeBigUInt64BE(BigInt(length), 2);
    }
    this.socket.write(Buffer.concat([header, ZERO_MASK, payload]));
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    if (!this.upgraded) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const status = Number(this.buffer.toString('latin1', 9, 12));
      if (status !== 101) {
        this.onHttpError?.(status);
        this.closed = true;
        return this.terminate();
      }
      this.upgraded = true;
      this.buffer = this.buffer.subarray(end + 4);
      this.onOpen?.();
    }
    this.parseFrames();
  }

  private parseFrames(): void {
    let buf = this.buffer;
    while (buf.length >= 2) {
      const opcode = buf[0]! & 0x0f;
      let length = buf[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buf.length < 4) break;
        length = buf.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buf.length < 10) break;
        length = Number(buf.readBigUInt64BE(2));
        offset = 10;
      }
      if (buf.length < offset + length) break;
      const payload = buf.subarray(offset, offset + length);
      buf = buf.subarray(offset + length);
      if (opcode === 0x1) this.onText?.(payload.toString());
      else if (opcode === 0x9) this.writeFrame(0xa, payload);
      else if (opcode === 0x8) {
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        if (!this.closing) this.writeFrame(0x8, payload.subarray(0, 2));
        this.socket.end();
        this.finish(code, payload.subarray(2).toString());
      }
    }
    this.buffer = buf.length === 0 ? Buffer.alloc(0) : Buffer.from(buf);
  }

  private finish(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose?.(code, reason);
  }
}
