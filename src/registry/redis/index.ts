export * from './redis-manager.registry.js';
export * from './redis-manager-registry.options.js';
