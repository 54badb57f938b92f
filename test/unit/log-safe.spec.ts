import { describe, expect, it } from 'vitest';
import { hasUnsafeCharacters, logSafe } from '../../src/lifecycle/log-safe.js';
import { isAcceptableUserId, MAX_USER_ID_LENGTH } from '../../src/gateway/user-id.js';

describe('logSafe', () => {
  it('escapes newlines and carriage returns so a value cannot start a forged line', () => {
    const forged = 'alice\n[Nest] 1 - WARN [WebSocketManager] refused a session of user root';
    const safe = logSafe(forged);
    expect(safe).not.toMatch(/[\r\n]/);
    expect(safe).toBe('alice\\u000a[Nest] 1 - WARN [WebSocketManager] refused a session of user root');
    expect(logSafe('a\r\nb')).toBe('a\\u000d\\u000ab');
  });

  it('escapes C1 controls, bidi overrides and isolates, zero-width marks, line separators and lone surrogates', () => {
    expect(logSafe('a\u0085b\u202ecba\u2066x\u2069\u200by\u2028z\ufeff')).toBe('a\\u0085b\\u202ecba\\u2066x\\u2069\\u200by\\u2028z\\ufeff');
    expect(logSafe('x\ud800y')).toBe('x\\ud800y');
    expect(logSafe('x\udc00')).toBe('x\\udc00');
  });

  it('keeps ordinary Unicode, including surrogate pairs, as it is', () => {
    expect(logSafe('Zoë 東京 🙂')).toBe('Zoë 東京 🙂');
  });

  it('cuts long values and says how much was left out', () => {
    const safe = logSafe('x'.repeat(10_000));
    expect(safe).toBe(`${'x'.repeat(200)}…(+9800 chars)`);
    expect(logSafe('abcdef', 3)).toBe('abc…(+3 chars)');
  });

  it('renders errors by their message and other values as strings', () => {
    expect(logSafe(new Error('boom\nsecond line'))).toBe('boom\\u000asecond line');
    expect(logSafe(42)).toBe('42');
    expect(logSafe(undefined)).toBe('undefined');
  });

  it('hasUnsafeCharacters agrees with what logSafe escapes', () => {
    for (const s of ['plain', 'Zoë', '🙂']) expect(hasUnsafeCharacters(s)).toBe(false);
    for (const s of ['a\nb', 'a\u0000', '\u202e', 'x\ud800', '\u2028']) expect(hasUnsafeCharacters(s)).toBe(true);
  });
});

describe('isAcceptableUserId', () => {
  it('admits ordinary ids, Unicode and emoji', () => {
    for (const id of ['alice', 'user-42', 'Zoë', '東京', '🙂', 'a'.repeat(MAX_USER_ID_LENGTH)]) expect(isAcceptableUserId(id), id).toBe(true);
  });

  it('refuses empty, over-long, control-character, bidi and ill-formed ids', () => {
    for (const id of ['', 'a'.repeat(MAX_USER_ID_LENGTH + 1), 'alice\nroot', 'tab\there', 'nul\u0000', 'rtl\u202eevil', 'lone\ud800', '\u2028']) {
      expect(isAcceptableUserId(id), JSON.stringify(id)).toBe(false);
    }
    expect(isAcceptableUserId(42)).toBe(false);
  });
});
