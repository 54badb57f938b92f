export * from './identity-resolver.interface.js';
export { bearerTokenOf, handshakeOf, type Handshake } from './handshake.js';
export * from './websocket-manager.adapter.js';
export { isAcceptableUserId, MAX_USER_ID_LENGTH } from './user-id.js';
export { InboundRateLimiter, type InboundBudget, type InboundVerdict } from './inbound-rate-limiter.js';
export { MAX_FRAME_DEPTH } from './frame-parser.js';
export * from './websocket-manager.gateway.js';
export * from './websocket-error.filter.js';
