export * from './identity-resolver.interface.js';
export { bearerTokenOf, handshakeOf, type Handshake } from './handshake.js';
export * from './websocket-manager.adapter.js';
export * from './websocket-manager.gateway.js';
export * from './websocket-error.filter.js';
export { answerAppPing } from './app-heartbeat.js';
