import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { WriteCoalescer } from '../../src/gateway/write-coalescer.js';

/** A real Node Writable that records each write it is handed (one entry per `writev` batch). */
function recorder() {
  const batches: string[][] = [];
  const stream = new Writable({
    writev(chunks, callback) {
      batches.push(chunks.map((c) => String(c.chunk)));
      callback();
    },
    write(chunk, _encoding, callback) {
      batches.push([String(chunk)]);
      callback();
    },
  });
  return { stream, batches };
}

const microtask = () => Promise.resolve();
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('WriteCoalescer', () => {
  it('writes what frames read together answer in one batch, once the last answer is written', async () => {
    const { stream, batches } = recorder();
    const coalescer = new WriteCoalescer();
    for (let i = 0; i < 3; i++) coalescer.begin(stream);
    stream.write('a');
    coalescer.end(stream);
    stream.write('b');
    coalescer.end(stream);
    await microtask();
    expect(batches).toEqual([]); // one frame still being answered
    stream.write('c');
    coalescer.end(stream);
    await microtask();
    await microtask();
    expect(batches).toEqual([['a', 'b', 'c']]);
    expect(stream.writableCorked).toBe(0);
  });

  it('never holds writes past the end of the turn, whatever a slow handler still owes', async () => {
    const { stream, batches } = recorder();
    const coalescer = new WriteCoalescer();
    coalescer.begin(stream);
    coalescer.begin(stream);
    stream.write('fast');
    coalescer.end(stream);
    await turn();
    expect(batches).toEqual([['fast']]);
    expect(stream.writableCorked).toBe(0);
    stream.write('slow'); // the slow answer goes straight out
    coalescer.end(stream);
    await turn();
    expect(batches).toEqual([['fast'], ['slow']]);
    expect(stream.writableCorked).toBe(0);
  });

  it('holds an upgrade to the end of the turn: the 101 answer leaves with the session frame', async () => {
    const { stream, batches } = recorder();
    const coalescer = new WriteCoalescer();
    coalescer.holdForTurn(stream);
    stream.write('HTTP/1.1 101');
    await microtask();
    coalescer.begin(stream); // a frame arriving meanwhile does not end the hold early
    coalescer.end(stream);
    await microtask();
    stream.write('session');
    expect(batches).toEqual([]);
    await turn();
    expect(batches).toEqual([['HTTP/1.1 101', 'session']]);
    expect(stream.writableCorked).toBe(0);
  });

  it('leaves a destroyed socket alone', async () => {
    const { stream } = recorder();
    stream.destroy();
    const coalescer = new WriteCoalescer();
    coalescer.begin(stream);
    coalescer.end(stream);
    await turn();
    expect(stream.writableCorked).toBe(0);
  });
});
