import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { bearerTokenOf, queryOf } from '../../src/gateway/handshake.js';

const request = (url: string | undefined, authorization?: string) => ({ url, headers: { authorization } }) as unknown as IncomingMessage;

describe('handshake query', () => {
  it('parses the query as new URL(...).searchParams does, once per request', () => {
    for (const url of ['/ws?token=a%20b&context=c1', '/ws?context=x&context=y', '/ws', '/ws?', '/ws?token=t#frag', '/ws#x?token=hidden', '/ws?a=1&token=%E2%9C%93+z', '']) {
      const expected = new URL(url || '/', 'http://localhost').searchParams;
      const req = request(url);
      expect([...queryOf(req)]).toEqual([...expected]);
      expect(queryOf(req)).toBe(queryOf(req));
    }
  });

  it('reads the bearer token from the header first, then ?token=', () => {
    expect(bearerTokenOf(request('/ws?token=q', 'Bearer h'))).toBe('h');
    expect(bearerTokenOf(request('/ws?token=q'))).toBe('q');
    expect(bearerTokenOf(request('/ws?token='))).toBeUndefined();
    expect(bearerTokenOf(request(undefined))).toBeUndefined();
  });
});
