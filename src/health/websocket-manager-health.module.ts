import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { WebSocketManagerHealthIndicator } from './websocket-manager.health-indicator.js';

/**
 * Provides and exports {@link WebSocketManagerHealthIndicator} (with terminus' `TerminusModule`).
 * Import it in the module of your health controller; it reads the application's
 * `WebSocketManagerModule` wherever that was imported, so nothing has to be global.
 */
@Module({
  imports: [TerminusModule],
  providers: [WebSocketManagerHealthIndicator],
  exports: [WebSocketManagerHealthIndicator],
})
export class WebSocketManagerHealthModule {}
