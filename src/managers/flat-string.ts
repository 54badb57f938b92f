/**
 * Flattens a string in place and returns it. `randomUUID()` builds its result by concatenation:
 * V8 keeps that as a tree of 14 cons strings (~490 bytes) until something flattens it. The
 * benchmark's million managers each held two such trees (manager and registry share the id);
 * `charCodeAt` makes V8 flatten the tree into one string (~70 bytes), in place, so every holder
 * of the same string gains. The content is unchanged.
 */
export function flattened(text: string): string {
  text.charCodeAt(0);
  return text;
}
