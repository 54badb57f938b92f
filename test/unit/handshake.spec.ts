import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { bearerTokenOf, queryParam } from '../../src/gateway/handshake.js';

const request = (url: string | undefined, authorization?: string) => ({ url, headers: { authorization } }) as unknown as IncomingMessage;

describe('handshake query', () => {
  it('reads a parameter as new URL(...).searchParams.get does, with or without anything to decode', () => {
    const urls = [
      '/ws?token=a%20b&context=c1',
      '/ws?context=x&context=y',
      '/ws',
      '/ws?',
      '/ws?token=t#frag',
      '/ws#x?token=hidden',
      '/ws?a=1&token=%E2%9C%93+z',
      '',
      '/ws?token&context=',
      '/ws?&&token=x&&',
      '/ws?tokens=1&token=2&toke=3',
      '/ws?token=a=b&context==c',
      '/ws?=token&token=eyJ.eyJ.s-_&context=main',
      '/ws?t%6Fken=decoded-name',
      '/ws?context=caf\u00e9&token=\u2713',
      '/ws?token=a b',
    ];
    for (const url of urls) {
      const expected = new URL(url || '/', 'http://localhost').searchParams;
      for (const name of ['token', 'context', 'a', 'toke', '']) {
        const req = request(url);
        // Twice on one request: the second read comes from what the first one kept.
        expect([queryParam(req, name), queryParam(req, name)], `${url} ${name}`).toEqual([expected.get(name), expected.get(name)]);
      }
    }
  });

  it('reads the bearer token from the header first, then ?token=', () => {
    expect(bearerTokenOf(request('/ws?token=q', 'Bearer h'))).toBe('h');
    expect(bearerTokenOf(request('/ws?token=q'))).toBe('q');
    expect(bearerTokenOf(request('/ws?token='))).toBeUndefined();
    expect(bearerTokenOf(request(undefined))).toBeUndefined();
  });
});
