/** One `host:port` of a cluster seed list or of a Sentinel list. */
export interface RedisHostPort {
  host: string;
  port: number;
}

/** Where the Redis registry connects, parsed from `redisUrl` by {@link parseRedisUrl}. */
export type RedisEndpoint =
  | { mode: 'single'; url: string }
  | { mode: 'cluster'; nodes: RedisHostPort[]; username?: string; password?: string; tls: boolean }
  | { mode: 'sentinel'; sentinels: RedisHostPort[]; name: string; db: number; username?: string; password?: string; tls: boolean };

/** What a Redis URL must look like; the message of an invalid `redisUrl`. */
export const REDIS_URL_RULE =
  'must be redis://host:port, rediss://…, redis-cluster://host:port,host:port (seed nodes of a Redis Cluster) or redis-sentinel://host:port,host:port/masterName';

const FORM = /^(rediss?)(-cluster|-sentinel)?:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/@\s]+)(?:\/([^\s]*))?$/;
const HOST_PORT = /^([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$/;

function hostPorts(list: string, defaultPort: number): RedisHostPort[] {
  return list.split(',').map((item) => {
    const entry = item.includes(':') && !item.endsWith(']') ? item : `${item}:${defaultPort}`;
    const match = HOST_PORT.exec(entry);
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65535) throw new Error(`"${item}" is not host:port`);
    return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
  });
}

function credentials(user: string | undefined, password: string | undefined): { username?: string; password?: string } {
  const out: { username?: string; password?: string } = {};
  if (user) out.username = decodeURIComponent(user);
  if (password) out.password = decodeURIComponent(password);
  return out;
}

/**
 * Reads the three forms of `redisUrl`:
 * - `redis://[user:pass@]host:port[/db]` (`rediss://` for TLS): one Redis, or a primary with
 *   replicas behind a proxy;
 * - `redis-cluster://[user:pass@]host:port,host:port,…` (`rediss-cluster://` for TLS): a Redis
 *   Cluster, given some of its nodes (the rest are discovered);
 * - `redis-sentinel://[user:pass@]host:port,host:port,…/masterName[/db]` (`rediss-sentinel://`):
 *   the primary that these Sentinels name `masterName`; the password is the primary's.
 *
 * Throws an `Error` saying what is wrong.
 */
export function parseRedisUrl(url: string): RedisEndpoint {
  const match = FORM.exec(url.trim());
  if (!match) throw new Error(`"${url}" ${REDIS_URL_RULE}`);
  const [, scheme, variant, user, password, hosts, path] = match;
  const tls = scheme === 'rediss';
  if (!variant) return { mode: 'single', url };
  if (variant === '-cluster') {
    if (path) throw new Error(`a redis-cluster:// URL takes no path (Redis Cluster has only database 0): "${url}"`);
    return { mode: 'cluster', nodes: hostPorts(hosts!, 6379), tls, ...credentials(user, password) };
  }
  const [name, db = '0'] = (path ?? '').split('/');
  if (!name) throw new Error(`a redis-sentinel:// URL names the primary after the hosts, e.g. redis-sentinel://127.0.0.1:26379/mymaster: "${url}"`);
  if (!/^\d{1,2}$/.test(db)) throw new Error(`the database of a redis-sentinel:// URL must be a number: "${url}"`);
  return { mode: 'sentinel', sentinels: hostPorts(hosts!, 26379), name: decodeURIComponent(name), db: Number(db), tls, ...credentials(user, password) };
}
