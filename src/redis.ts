// 'nestjs-websocket-manager/redis': the Redis registry, for applications that build one themselves
// (`registry: new RedisManagerRegistry({ client })`). Its types name ioredis's, so it lives apart
// from the main entry; `registry: 'redis'` needs no import of it.
export * from './registry/redis/index.js';
