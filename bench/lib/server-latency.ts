import { Socket } from 'node:net';
import { summarize, type Summary } from './stats.js';

type WriteGeneric = (this: Socket, ...args: unknown[]) => unknown;
type Emit = (this: Socket, event: string | symbol, ...args: unknown[]) => boolean;
type SocketProto = { emit: Emit; _writeGeneric: WriteGeneric };

/**
 * The server's own share of a round trip, measured inside the server process: from a TCP chunk
 * being handed to the socket's `data` listeners (`ws` reads frames there) to the first write the
 * server then starts on that socket (`net.Socket#_writeGeneric`, where libuv is asked to send).
 * The client's round trip adds two loopback hops and the client's own scheduling, which on a
 * two-core machine vary more than the server's work does; this figure leaves them out, so the
 * module and the bare server are compared on what they do per frame, the same way for every
 * target.
 *
 * {@link install} it before the warm-up (changing `Socket.prototype` throws away the optimised
 * code of every socket call site: that must not happen right before a measured window), record
 * between {@link start} and {@link stop}, and {@link uninstall} once the scenario is measured.
 * Installed but not recording, it costs a call and a flag check per socket event. A chunk that is
 * not answered (a pong) leaves its stamp until the socket's next chunk replaces it.
 */
export class ServerLatencyProbe {
  private stamps = new WeakMap<Socket, number>();
  private samples: number[] = [];
  private recording = false;
  private restore: (() => void) | undefined;

  install(): void {
    if (this.restore) return;
    const proto = Socket.prototype as unknown as SocketProto;
    if (typeof proto._writeGeneric !== 'function') throw new Error('net.Socket#_writeGeneric is missing in this Node: the server-side latency probe cannot run');
    const ownEmit = Object.prototype.hasOwnProperty.call(proto, 'emit');
    const { emit, _writeGeneric: writeGeneric } = proto;
    const read = (socket: Socket) => {
      if (this.recording) this.stamps.set(socket, performance.now());
    };
    const written = (socket: Socket) => {
      const stamp = this.recording ? this.stamps.get(socket) : undefined;
      if (stamp === undefined) return;
      this.samples.push((performance.now() - stamp) * 1000);
      this.stamps.delete(socket);
    };
    proto.emit = function (this: Socket, event, ...args) {
      if (event === 'data') read(this);
      return emit.call(this, event, ...args);
    };
    proto._writeGeneric = function (this: Socket, ...args) {
      written(this);
      return writeGeneric.apply(this, args);
    };
    this.restore = () => {
      // `emit` is inherited (EventEmitter's) unless something made it the prototype's own.
      if (ownEmit) proto.emit = emit;
      else delete (proto as Partial<SocketProto>).emit;
      proto._writeGeneric = writeGeneric;
    };
  }

  /** Starts recording (installing the probe first if it is not). */
  start(): void {
    this.install();
    this.stamps = new WeakMap();
    this.samples = [];
    this.recording = true;
  }

  /** Stops recording: chunk-to-write times in µs since {@link start}. */
  stop(): Summary {
    this.recording = false;
    const summary = summarize(this.samples);
    this.samples = [];
    return summary;
  }

  /** Puts Node's socket methods back. */
  uninstall(): void {
    this.recording = false;
    this.restore?.();
    this.restore = undefined;
  }
}
