export * from './invalid-options.error.js';
export * from './manager-limit-exceeded.error.js';
export * from './registry-unavailable.error.js';
export * from './invalid-context.error.js';
export * from './registry-reply.error.js';
export * from './context-busy.error.js';
export * from './invalid-user-id.error.js';
