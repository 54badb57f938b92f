/** Longest rendering of one untrusted value in a log line, before it is cut. */
export const LOG_SAFE_MAX_LENGTH = 200;

// C0/C1 controls and DEL, line/paragraph separators, bidi embeddings, overrides, isolates and
// marks, zero-width joiners and the BOM: anything that can end a line, hide text or reorder it.
// Lone surrogates too: they cannot be encoded as UTF-8 and turn into U+FFFD on the way out.
const UNSAFE_SOURCE =
  '[\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028-\\u202e\\u2066-\\u2069\\ufeff]' +
  '|[\\ud800-\\udbff](?![\\udc00-\\udfff])|(?<![\\ud800-\\udbff])[\\udc00-\\udfff]';
const UNSAFE = new RegExp(UNSAFE_SOURCE, 'g');
const UNSAFE_ONE = new RegExp(UNSAFE_SOURCE);

/**
 * Whether `text` holds a character that {@link logSafe} would escape: a control character, a
 * line or paragraph separator, a bidi or zero-width mark, the BOM, or a lone surrogate.
 */
export function hasUnsafeCharacters(text: string): boolean {
  return UNSAFE_ONE.test(text);
}

const escapeOne = (ch: string): string => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * Renders an untrusted value (a user id from a token, a context, an error message) for a log
 * line: control characters, newlines, bidi and zero-width marks and lone surrogates become
 * `\uXXXX` escapes, and the result is cut at `maxLength` characters with the count of what was
 * left out, so a client can neither forge a line nor flood one.
 *
 * @example logger.warn(`refused a session of user ${logSafe(userId)}`)
 */
export function logSafe(value: unknown, maxLength = LOG_SAFE_MAX_LENGTH): string {
  const text = typeof value === 'string' ? value : value instanceof Error ? value.message : String(value);
  const cut = text.length > maxLength ? text.slice(0, maxLength) : text;
  // A cut in the middle of a surrogate pair leaves a lone half: escaped like any other.
  const escaped = cut.replace(UNSAFE, escapeOne);
  return text.length > maxLength ? `${escaped}…(+${text.length - maxLength} chars)` : escaped;
}
