import { Socket } from 'node:net';
import { summarize, type Summary } from './stats.js';

type WriteGeneric = (this: Socket, ...args: unknown[]) => unknown;
type Emit = (this: Socket, event: string | symbol, ...args: unknown[]) => boolean;

/**
 * The server's own share of a round trip, measured inside the server process: from a TCP chunk
 * being handed to the socket's `data` listeners (`ws` reads frames there) to the first write the
 * server then starts on that socket (`net.Socket#_writeGeneric`, where libuv is asked to send).
 * The client's round trip adds two loopback hops and the client's own scheduling, which on a
 * two-core machine vary more than the server's work does; this figure leaves them out, so the
 * module and the bare server are compared on what they do per frame. Installed only while a
 * measurement runs (the patched `emit` costs a comparison per socket event), the same way for
 * every target. A chunk that is not answered (a pong) leaves its stamp until the socket's next
 * chunk replaces it.
 */
export class ServerLatencyProbe {
  private readonly stamps = new WeakMap<Socket, number>();
  private samples: number[] = [];
  private restore: (() => void) | undefined;

  /** Whether this Node has the internal the probe hooks (`_writeGeneric`, Node 12 to 24 at least). */
  static available(): boolean {
    return typeof (Socket.prototype as unknown as { _writeGeneric?: unknown })._writeGeneric === 'function';
  }

  start(): void {
    if (this.restore) return;
    if (!ServerLatencyProbe.available()) throw new Error('net.Socket#_writeGeneric is missing in this Node: the server-side latency probe cannot run');
    this.samples = [];
    const proto = Socket.prototype as unknown as { emit: Emit; _writeGeneric: WriteGeneric };
    const { emit, _writeGeneric: writeGeneric } = proto;
    const { stamps, samples } = this;
    proto.emit = function (this: Socket, event, ...args) {
      if (event === 'data') stamps.set(this, performance.now());
      return emit.call(this, event, ...args);
    };
    proto._writeGeneric = function (this: Socket, ...args) {
      const stamp = stamps.get(this);
      if (stamp !== undefined) {
        samples.push((performance.now() - stamp) * 1000);
        stamps.delete(this);
      }
      return writeGeneric.apply(this, args);
    };
    this.restore = () => {
      proto.emit = emit;
      proto._writeGeneric = writeGeneric;
    };
  }

  /** Stops measuring: chunk-to-write times in µs since {@link start}. */
  stop(): Summary {
    this.restore?.();
    this.restore = undefined;
    const summary = summarize(this.samples);
    this.samples = [];
    return summary;
  }
}
