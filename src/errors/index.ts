export * from './invalid-options.error.js';
export * from './manager-limit-exceeded.error.js';
export * from './registry-unavailable.error.js';
export * from './invalid-context.error.js';
