import { describe, expect, it } from 'vitest';
import { MAX_FRAME_DEPTH, nestingExceeds, parseFrame } from '../../src/gateway/frame-parser.js';

const raw = (text: string) => Buffer.from(text);

describe('parseFrame', () => {
  it('parses {event, data}', () => {
    expect(parseFrame(raw('{"event":"echo","data":{"a":[1,2]}}'))).toEqual({ event: 'echo', data: { a: [1, 2] } });
  });

  it('refuses non-JSON and frames without a string event', () => {
    for (const text of ['nope', '{"data":1}', '{"event":5}', 'null', '[]']) expect(parseFrame(raw(text)), text).toBeUndefined();
  });

  it('refuses nesting bombs before parsing them, at any depth past the limit', () => {
    const bomb = (depth: number) => `{"event":"echo","data":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    expect(parseFrame(raw(bomb(MAX_FRAME_DEPTH - 1)))).toBeDefined();
    expect(parseFrame(raw(bomb(MAX_FRAME_DEPTH)))).toBeUndefined();
    expect(parseFrame(raw(bomb(100_000)))).toBeUndefined();
    expect(parseFrame(raw('['.repeat(60_000)))).toBeUndefined();
  });
});

describe('nestingExceeds', () => {
  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(nestingExceeds(`{"s":"${'['.repeat(100)}"}`, 2)).toBe(false);
    expect(nestingExceeds(`{"s":"\\"${'{'.repeat(100)}"}`, 2)).toBe(false);
    expect(nestingExceeds('[[[1]]]', 2)).toBe(true);
  });

  it('counts depth, not brackets: many shallow objects pass, mixed `{`/`[` nesting past the limit does not', () => {
    const wide = JSON.stringify({ event: 'e', data: Array.from({ length: 500 }, (_, i) => ({ i, tags: [i] })) });
    expect(nestingExceeds(wide, 4)).toBe(false);
    expect(nestingExceeds('{"a":[{"b":[{"c":[1]}]}]}', 5)).toBe(true);
    expect(nestingExceeds('{"a":[{"b":[{"c":[1]}]}]}', 6)).toBe(false);
  });
});
