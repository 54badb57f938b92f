import { randomFillSync } from 'node:crypto';

/**
 * Flattens a string in place and returns it. `randomUUID()` builds its result by concatenation:
 * V8 keeps that as a tree of 14 cons strings (~490 bytes) until something flattens it. The
 * benchmark's million managers each held two such trees (manager and registry share the id);
 * `charCodeAt` makes V8 flatten the tree into one string (~70 bytes), in place, so every holder
 * of the same string gains. The content is unchanged. Ids the module makes come from
 * {@link randomId}, flat from the start; this is for ids that come from elsewhere (a registry).
 */
export function flattened(text: string): string {
  text.charCodeAt(0);
  return text;
}

const HEX = Buffer.from('0123456789abcdef');
/** Random bytes for 256 ids at a time (one `randomFillSync` per 256 ids, as `randomUUID` batches too). */
const pool = Buffer.alloc(16 * 256);
let poolOffset = pool.length;
const text = Buffer.alloc(36);

/**
 * A random (version 4) UUID, e.g. `3b241101-e2bb-4255-8caf-4136c566a962`, as one flat string
 * written in a single allocation: `crypto.randomUUID()` costs ~450 bytes of intermediate strings
 * per call (measured per admission, which makes two). Same randomness source (the CSPRNG).
 */
export function randomId(): string {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const at = poolOffset;
  poolOffset += 16;
  pool[at + 6] = (pool[at + 6]! & 0x0f) | 0x40; // version 4
  pool[at + 8] = (pool[at + 8]! & 0x3f) | 0x80; // RFC 4122 variant
  let out = 0;
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) text[out++] = 0x2d; // '-'
    const byte = pool[at + i]!;
    text[out++] = HEX[byte >> 4]!;
    text[out++] = HEX[byte & 0x0f]!;
  }
  return text.toString('latin1', 0, 36);
}
