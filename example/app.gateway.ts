import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway, type WsResponse } from '@nestjs/websockets';
import type { WebSocket } from 'ws';
import { WebSocketManagerGateway } from '../src/index.js';

/** The example gateway: the module's protocol plus `echo`. Path and limits come from the options. */
@WebSocketGateway()
export class AppGateway extends WebSocketManagerGateway {
  /** `{"event":"echo","data":X}` → `{"event":"echo","data":X}`, once the session is established. */
  @SubscribeMessage('echo')
  async echo(@ConnectedSocket() client: WebSocket, @MessageBody() data: unknown): Promise<WsResponse<unknown> | undefined> {
    return (await this.admitted(client)) ? { event: 'echo', data } : undefined;
  }
}
