import { hasUnsafeCharacters } from '../lifecycle/log-safe.js';

/** Longest user id the handshake admits (UTF-16 code units). */
export const MAX_USER_ID_LENGTH = 256;

/**
 * Whether a user id (from the identity resolver) can be admitted: 1–{@link MAX_USER_ID_LENGTH}
 * code units, well-formed Unicode (no lone surrogates, so it stores and round-trips through
 * Redis, JSON and URLs unchanged), and free of control, line-separator, bidi and zero-width
 * characters (an id holding one could forge log lines or pass for another id). Other Unicode
 * (accents, CJK, emoji) is fine: such ids are reachable in the admin API URL-encoded.
 */
export function isAcceptableUserId(userId: unknown): userId is string {
  return typeof userId === 'string' && userId.length > 0 && userId.length <= MAX_USER_ID_LENGTH && !hasUnsafeCharacters(userId);
}
