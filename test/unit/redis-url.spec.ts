import { describe, expect, it } from 'vitest';
import { resolveWsManagerOptions } from '../../src/config/ws-manager.schema.js';
import { InvalidOptionsError } from '../../src/errors/invalid-options.error.js';
import { parseRedisUrl } from '../../src/registry/redis/redis-url.js';

describe('parseRedisUrl', () => {
  it('passes one-server URLs through unchanged', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6379')).toEqual({ mode: 'single', url: 'redis://127.0.0.1:6379' });
    expect(parseRedisUrl('rediss://user:p%40ss@cache:6380/2')).toEqual({ mode: 'single', url: 'rediss://user:p%40ss@cache:6380/2' });
  });

  it('reads the seed nodes and credentials of a cluster URL', () => {
    expect(parseRedisUrl('redis-cluster://a:7000,b:7001,10.0.0.3')).toEqual({
      mode: 'cluster',
      nodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7001 },
        { host: '10.0.0.3', port: 6379 },
      ],
      tls: false,
    });
    expect(parseRedisUrl('rediss-cluster://:s%3Acret@a:7000')).toMatchObject({ mode: 'cluster', password: 's:cret', tls: true });
  });

  it('reads the Sentinels, the primary name and the database of a Sentinel URL', () => {
    expect(parseRedisUrl('redis-sentinel://s1:26379,s2/mymaster/3')).toEqual({
      mode: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26379 },
      ],
      name: 'mymaster',
      db: 3,
      tls: false,
    });
  });

  it.each([
    ['http://x:1', /must be redis:\/\//],
    ['redis-cluster://a:7000/1', /takes no path/],
    ['redis-sentinel://s1:26379', /names the primary/],
    ['redis-sentinel://s1:26379/m/x', /must be a number/],
    ['redis-cluster://a:99999', /is not host:port/],
  ])('refuses %s with a message that says what is wrong', (url, message) => {
    expect(() => parseRedisUrl(url)).toThrow(message);
  });

  it('is the rule of the redisUrl option, and the key prefix takes no hash tag', () => {
    expect(resolveWsManagerOptions({ redisUrl: 'redis-cluster://a:7000,b:7001' }).redisUrl).toBe('redis-cluster://a:7000,b:7001');
    expect(() => resolveWsManagerOptions({ redisUrl: 'redis-sentinel://s1' })).toThrow(InvalidOptionsError);
    expect(() => resolveWsManagerOptions({ redisKeyPrefix: 'app{1}:' })).toThrow(/must not contain/);
  });
});
