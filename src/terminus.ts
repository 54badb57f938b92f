// 'nestjs-websocket-manager/terminus': the health indicator, for apps that use @nestjs/terminus.
export {
  WebSocketManagerHealthIndicator,
  type WebSocketManagerHealthCheckOptions,
  type WebSocketManagerHealthDetails,
} from './health/websocket-manager.health-indicator.js';
export { WebSocketManagerHealthModule, type WebSocketManagerHealthModuleOptions } from './admin/websocket-manager-health.module.js';
