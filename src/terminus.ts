// 'nestjs-websocket-manager/terminus': the health indicator, for apps that use @nestjs/terminus.
// Kept out of the main entry so that applications without terminus never load it.
export { WebSocketManagerHealthModule, type WebSocketManagerHealthModuleOptions } from './health/websocket-manager-health.module.js';
export {
  WebSocketManagerHealthIndicator,
  type WebSocketManagerHealthCheckOptions,
  type WebSocketManagerHealthDetails,
} from './health/websocket-manager.health-indicator.js';
