import { Injectable, type OnModuleInit } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { discoverGateways, isGovernedServer, serverOf } from './governed-gateways.js';

/**
 * Refuses to start an application whose governed gateways got their server from another adapter
 * (socket.io's `IoAdapter`, plain `WsAdapter`): the module is `ws`-only, and without its adapter
 * no handshake is checked. Runs in `onModuleInit`, after Nest has wired the gateways and before
 * any client is let in.
 */
@Injectable()
export class GovernedGatewaysCheck implements OnModuleInit {
  constructor(private readonly container: ModulesContainer) {}

  onModuleInit(): void {
    for (const gateway of discoverGateways(this.container)) {
      if (!gateway.governed || !gateway.instance) continue;
      const server = serverOf(gateway.instance);
      // No server: not wired to an adapter at all (a testing module without an application).
      if (server === undefined || server === null || isGovernedServer(server)) continue;
      const kind = (server as object).constructor?.name ?? typeof server;
      throw new Error(
        `${gateway.metatype.name} is governed by nestjs-websocket-manager, which is ws only, but its server is a ${kind} ` +
          'from another WebSocket adapter. Use app.useWebSocketAdapter(new WebSocketManagerAdapter(app)) ' +
          '(other gateways keep behaving as under @nestjs/platform-ws WsAdapter).',
      );
    }
  }
}
