import { UseInterceptors } from '@nestjs/common';
import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway, type WsResponse } from '@nestjs/websockets';
import type { WebSocket } from 'ws';
import { EmergencyCleanupInterceptor, WebSocketManagerGateway } from '../src/index.js';

/**
 * The example gateway: the module's protocol (`join`, `status`, mapped to those names here)
 * plus `echo`. Path and limits come from the options.
 */
@WebSocketGateway()
export class AppGateway extends WebSocketManagerGateway {
  /** `{"event":"join","data":{"context":"CTX"}}`: moves this connection (emergency cleanup at the limit). */
  @UseInterceptors(EmergencyCleanupInterceptor)
  @SubscribeMessage('join')
  join(@ConnectedSocket() client: WebSocket, @MessageBody() body: unknown): Promise<WsResponse<unknown>> {
    return this.joinContext(client, body);
  }

  /** `{"event":"status"}`: this session's health class and reasons. */
  @SubscribeMessage('status')
  status(@ConnectedSocket() client: WebSocket): Promise<WsResponse<unknown>> {
    return this.sessionStatus(client);
  }

  /** `{"event":"echo","data":X}` → `{"event":"echo","data":X}`, once the session is established. */
  @SubscribeMessage('echo')
  async echo(@ConnectedSocket() client: WebSocket, @MessageBody() data: unknown): Promise<WsResponse<unknown> | undefined> {
    return (await this.admitted(client)) ? { event: 'echo', data } : undefined;
  }
}
