export * from './redis-manager.registry.js';
export * from './redis-manager-registry.options.js';
export { RedisKeys } from './redis-keys.js';
export { parseRedisUrl, REDIS_URL_RULE, type RedisEndpoint, type RedisHostPort } from './redis-url.js';
export type { RedisClient } from './redis-connection.js';
export type { NodeLease } from './redis-lease.js';
