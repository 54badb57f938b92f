// nestjs-websocket-manager/client: the dependency-free client (browsers, and Node with `ws`).
export { connect, WebSocketClient } from './websocket-client.js';
export { CLIENT_DEFAULTS, type ConnectOptions } from './client.options.js';
export type { ClientEvents, ClientStatus, EventMap, LifecycleEvents, ProtocolEvents, StopReason } from './client.events.js';
export { WebSocketClientError, type WebSocketClientErrorCode } from './client.error.js';
export { backoffDelay, type BackoffOptions } from './backoff.js';
export { APP_PING_EVENT, APP_PONG_EVENT, ClientCloseCodes, type ErrorInfo, type EvictedInfo, type SessionInfo } from './protocol.js';
export type { StorageLike, WebSocketConstructor, WebSocketLike } from './environment.js';
