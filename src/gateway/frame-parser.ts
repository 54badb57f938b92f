import type { RawData } from 'ws';

/** Deepest `[`/`{` nesting a frame may have: far above any protocol message, far below a stack overflow. */
export const MAX_FRAME_DEPTH = 64;

/** A parsed inbound frame. */
export interface InboundFrame {
  event: string;
  data: unknown;
}

/**
 * Parses one text frame into `{event, data}`; `undefined` for anything else: not JSON, no string
 * `event`, or nested deeper than {@link MAX_FRAME_DEPTH} (a nesting bomb would otherwise make
 * every later step that walks the value, `JSON.stringify` of an echo first, overflow the stack).
 */
export function parseFrame(raw: RawData): InboundFrame | undefined {
  const text = String(raw);
  if (nestingExceeds(text, MAX_FRAME_DEPTH)) return undefined;
  try {
    const frame = JSON.parse(text) as { event?: unknown; data?: unknown } | null;
    // The parsed object itself (no copy per frame): callers read `event` and `data` only.
    return typeof frame?.event === 'string' ? (frame as InboundFrame) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the JSON text nests arrays/objects deeper than `max`, ignoring brackets inside strings. */
export function nestingExceeds(text: string, max: number): boolean {
  // Nesting deeper than `max` needs more than `max` opening brackets: counting them (native
  // `indexOf`) settles almost every frame without the per-character scan below.
  if (openingBrackets(text, max + 1) <= max) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

const OPENING_BRACKETS = ['{', '['] as const;

/** How many `{` and `[` the text has, counting no further than `limit`. */
function openingBrackets(text: string, limit: number): number {
  let count = 0;
  for (const bracket of OPENING_BRACKETS) {
    for (let i = text.indexOf(bracket); i !== -1 && count < limit; i = text.indexOf(bracket, i + 1)) count++;
  }
  return count;
}
